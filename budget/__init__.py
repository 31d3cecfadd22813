"""Regional total budget, point value, hospital settlement and clearing."""
