"""Every label of the HTML report in Chinese (as agencies write them) and English."""

from __future__ import annotations

from drgdip.core.errors import UsageError

__all__ = ["LANGUAGES", "Labels", "INDICATOR_TEXT"]

LANGUAGES = ("zh", "en")

# key: (Chinese, English)
TEXT = {
    # page
    "settlement_title": ("{year}年度 DRG/DIP 医保基金结算报告", "DRG/DIP settlement report {year}"),
    "simulation_title": ("政策模拟与蒙特卡洛分析报告", "Scenarios and Monte Carlo"),
    "report_title": ("drgdip 结算报告", "drgdip report"),
    "made_by": ("由 drgdip 生成，数据来自 {folder}", "Made by drgdip from {folder}"),
    "contents": ("目录", "Contents"),
    "no_data": ("无数据", "no data"),
    "filter": ("筛选（医院编码、名称或地区）", "Filter (hospital id, name or region)"),
    "all_levels": ("全部等级", "all levels"),
    "rows_shown": ("显示 {shown} / {total} 家医院", "{shown} of {total} hospitals shown"),
    "sort_hint": ("点击表头排序", "click a column header to sort"),
    "level_n": ("{level}级", "level {level}"),
    # settlement sections
    "headline": ("结算概览", "Headline figures"),
    "headline_note": ("年度预算总额、实际支付与调节金；预算点值与结算点值（按统筹区、基金池）。",
                      "The year's budget, what was paid and the reserve; budgeted and settlement point value "
                      "per pooling area and pool."),
    "hospitals": ("医院结算明细", "Hospitals"),
    "gain_loss": ("医院盈亏（与按项目付费相比）", "Gain or loss per hospital against fee-for-service"),
    "gain_loss_note": ("按盈亏排序，颜色表示医院等级。", "Sorted, coloured by hospital level."),
    "cmi_cost": ("病例组合指数 CMI 与次均费用", "Case-mix index (CMI) against cost per case"),
    "outliers": ("高低倍率病例占比（按医院等级）", "Outlier classes by hospital level"),
    "monthly": ("月度预付与年终清算", "Monthly prepayment and year-end clearing"),
    "clearing": ("异地就医清算矩阵（参保地 × 就医地）",
                 "Clearing matrix (insured region × treatment region)"),
    "clearing_note": ("省内异地就医按点数应付基金，单位：元。", "Fund due for remote stays, yuan."),
    "day_care": ("日间诊疗", "Day care"),
    "grouping": ("分组质量", "Grouping quality"),
    "indicators": ("绩效考核指标", "Performance indicators"),
    "indicators_note": ("每家医院的指标值，括号内为在同级医院中的排名（1 = 最优）。公式见 drgdip.budget.indicators。",
                        "Each hospital's value with its rank among hospitals of its level in brackets (1 = best). "
                        "Formulas: drgdip.budget.indicators."),
    "indicators_by_level": ("按医院等级", "By hospital level"),
    "indicators_by_region": ("按地区", "By region"),
    # headline fields
    "area": ("统筹区", "Pooling area"),
    "pool": ("基金池", "Pool"),
    "insurance_type": ("险种", "Insurance"),
    "budget_total": ("年度预算总额（元）", "Budget (yuan)"),
    "final_payments": ("实际支付（元）", "Paid (yuan)"),
    "reserve_start": ("提取调节金（元）", "Reserve set aside (yuan)"),
    "reserve_end": ("调节金余额（元）", "Reserve left (yuan)"),
    "budget_use": ("预算使用率", "Budget used"),
    "budget_point_value": ("预算点值（元/点）", "Budgeted point value (yuan/point)"),
    "settlement_point_value": ("结算点值（元/点）", "Settlement point value (yuan/point)"),
    "effective_point_value": ("实际点值（元/点）", "Effective point value (yuan/point)"),
    "total_budget": ("预算总额", "Budget"),
    "total_paid": ("实际支付", "Paid"),
    "total_reserve": ("调节金余额", "Reserve left"),
    "hospitals_gaining": ("结余医院数", "Hospitals gaining"),
    # hospital table
    "hospital_id": ("医院编码", "Hospital"),
    "name": ("医院名称", "Name"),
    "level": ("等级", "Level"),
    "region": ("地区", "Region"),
    "cases": ("病例数", "Cases"),
    "remote_cases": ("省内异地病例", "In-province remote cases"),
    "points": ("总点数", "Points"),
    "cmi": ("病例组合指数 CMI", "CMI"),
    "cost_per_case": ("次均费用（元）", "Cost per case (yuan)"),
    "fund_due": ("应付基金（元）", "Fund due (yuan)"),
    "ffs_fund": ("按项目统筹支付（元）", "Fee-for-service fund (yuan)"),
    "surplus_kept": ("结余留用（元）", "Surplus kept (yuan)"),
    "overspend_shared": ("超支分担（元）", "Overspend shared (yuan)"),
    "final_payment": ("年终清算支付（元）", "Final payment (yuan)"),
    "gain_vs_ffs": ("与按项目付费相比（元）", "Gain vs fee-for-service (yuan)"),
    # charts
    "gain_axis": ("与按项目付费相比（万元）", "gain vs fee-for-service (10,000 yuan)"),
    "hospital_axis": ("医院（按盈亏排序）", "hospitals, sorted"),
    "share_axis": ("病例占比", "share of cases"),
    "month_axis": ("月份", "month"),
    "money_axis": ("金额（万元）", "10,000 yuan"),
    "yuan": ("金额（元）", "yuan"),
    "prepayment": ("月度预付", "monthly prepayment"),
    "year_end_clearing": ("年终清算", "year-end clearing"),
    "insured_region": ("参保地", "insured region"),
    "treatment_region": ("就医地", "treatment region"),
    "outlier_normal": ("正常病例", "normal"),
    "outlier_low": ("低倍率", "low"),
    "outlier_high": ("高倍率", "high"),
    "outlier_extreme": ("极高倍率", "extreme"),
    "outlier_ungrouped": ("未入组（空白病组）", "ungrouped"),
    "outlier_special_review": ("特病单议", "special review"),
    "outlier_bed_day": ("床日付费", "bed-day"),
    # day care
    "care_type": ("诊疗方式", "Care type"),
    "care_inpatient": ("住院", "inpatient"),
    "care_day_surgery": ("日间手术", "day surgery"),
    "care_day_chemo": ("日间化疗", "day chemotherapy"),
    "care_tcm_day": ("中医日间病房", "TCM day ward"),
    "care_day_ward": ("日间病房", "day ward"),
    "as_submitted": ("申报", "as submitted"),
    "as_settled": ("结算", "as settled"),
    "converted": ("转为普通住院", "converted to ordinary stays"),
    "not_covered": ("不纳入日间结算", "not covered"),
    "merged": ("术前费用并入", "pre-operative costs merged"),
    "merged_cost": ("并入的术前费用（元）", "pre-operative costs merged (yuan)"),
    "day_ward_periods": ("日间病房结算周期", "day-ward periods"),
    "count": ("数量", "count"),
    # grouping
    "status": ("分组状态", "status"),
    "grouped_share": ("入组率", "grouped"),
    "ungrouped_share": ("未入组率", "ungrouped"),
    "top_groups": ("病例数最多的病组", "Largest groups"),
    "group": ("病组", "group"),
    "share": ("占比", "share"),
    # simulation
    "scenarios": ("情景结算结果", "Scenarios"),
    "scenario": ("情景", "scenario"),
    "scenario_changes": ("各情景下医院支付变化（与基线相比）", "Change per hospital against the baseline"),
    "change_axis": ("与基线相比（万元）", "change against the baseline (10,000 yuan)"),
    "sweeps": ("参数扫描", "Sweeps"),
    "sweep_value": ("取值", "value"),
    "point_value": ("结算点值（元/点）", "settlement point value (yuan/point)"),
    "most_affected": ("变化最大的五家医院（与基线相比，万元）",
                      "five most affected hospitals (change against baseline, 10,000 yuan)"),
    "monte_carlo": ("蒙特卡洛模拟", "Monte Carlo"),
    "mc_intervals": ("医院与按项目付费相比的盈亏区间（P5–P95，点为中位数）",
                     "Gain vs fee-for-service per hospital: P5–P95, dot at the median"),
    "mc_pools": ("结算点值分布（按基金池）", "Settlement point value per pool"),
    "probability_of_loss": ("亏损概率", "probability of a loss"),
    "probability_below_baseline": ("低于基线概率", "probability below baseline"),
    "payment_p50": ("支付中位数（元）", "payment P50 (yuan)"),
    "gain_p5": ("盈亏 P5（元）", "gain P5 (yuan)"),
    "gain_p50": ("盈亏 P50（元）", "gain P50 (yuan)"),
    "gain_p95": ("盈亏 P95（元）", "gain P95 (yuan)"),
    "draws": ("抽样次数", "draws"),
    "mean": ("均值", "mean"),
    "baseline": ("基线", "baseline"),
    "kind": ("类型", "kind"),
    "change": ("与基线相比（元）", "change (yuan)"),
    "shift_level": ("{level}级医院资金转移（元）", "shift to level {level} (yuan)"),
    "hospitals_losing": ("支付减少医院数", "hospitals losing"),
}


# performance indicators (drgdip.budget.indicators): (Chinese, English, which way is better for the rank)
INDICATOR_TEXT = {
    "cost_per_case": ("次均费用（元）", "cost per case (yuan)", "lower"),
    "cost_growth": ("次均费用增长率", "cost per case growth", "lower"),
    "average_los": ("平均住院日", "average LOS (days)", "lower"),
    "cost_consumption_index": ("费用消耗指数", "cost consumption index", "lower"),
    "time_consumption_index": ("时间消耗指数", "time consumption index", "lower"),
    "cmi": ("病例组合指数 CMI", "CMI", "higher"),
    "grouping_rate": ("入组率", "grouping rate", "higher"),
    "core_share": ("核心病种占比", "core groups share", None),
    "comprehensive_share": ("综合病种占比", "comprehensive groups share", None),
    "share_low": ("低倍率病例占比", "low outliers share", "lower"),
    "share_high": ("高倍率病例占比", "high outliers share", "lower"),
    "share_extreme": ("极高倍率病例占比", "extreme outliers share", "lower"),
    "share_ungrouped": ("未入组病例占比", "ungrouped share", "lower"),
    "special_review_share": ("特例单议病例占比", "special review share", None),
    "death_rate": ("病死率", "death rate", "lower"),
    "readmission_14d": ("14天再入院率", "14-day readmission", "lower"),
    "readmission_30d": ("30天再入院率", "30-day readmission", "lower"),
    "split_admission_share": ("疑似分解住院占比", "suspected split admissions", "lower"),
    "drug_share": ("药占比", "drug cost share", "lower"),
    "consumable_share": ("耗占比", "consumables share", "lower"),
    "self_pay_share": ("自费比例", "self-pay (out of scope) share", "lower"),
    "self_payment_share": ("自付比例", "self-payment (in scope) share", "lower"),
    "surplus_coverage": ("结余医院占比", "hospitals with a surplus", None),
}


class Labels:
    """Look up a label in one language: ``labels["headline"]``, ``labels("level_n", level=3)``."""

    def __init__(self, lang: str = "zh"):
        if lang not in LANGUAGES:
            raise UsageError(f"--lang must be one of {', '.join(LANGUAGES)}, got {lang!r}", field="lang")
        self.lang = lang
        self._column = LANGUAGES.index(lang)

    def __getitem__(self, key: str) -> str:
        return TEXT[key][self._column]

    def __call__(self, key: str, **values) -> str:
        return self[key].format(**values)

    def indicator(self, name: str) -> str:
        text = INDICATOR_TEXT.get(name)
        return text[self._column] if text else name

    def get(self, key: str, default: str) -> str:
        return TEXT[key][self._column] if key in TEXT else default
