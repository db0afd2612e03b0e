"""The people and employers of the demo district, before any source system renders them.

A *population* is a pure function of ``(seed, count, ids already taken)``: the same inputs
give the same people, so ``demo append`` can rebuild earlier populations (to avoid ID
collisions) instead of storing them. Source systems then render these canonical facts in
their own incompatible ways (see :mod:`hrss_hub.demo.generator`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from hrss_hub.demo.checks import (
    USCC_ALPHABET,
    citizen_id_check_char,
    org_code_check_char,
    uscc_check_char,
)


def words(text: str) -> tuple[str, ...]:
    """Split a space-separated word list (keeps long CJK lists readable)."""
    return tuple(text.split())


# Address codes safe for *any* birth year: in force since before 1980 and still in force,
# and listed in standards/v1/codelists/divisions.yaml. An identifier validator that checks
# the county existed in the birth year (like python-stdnum) must accept every generated ID.
ADDR_ANY = ("510106", "510112", "510113", "510121", "510129", "510131",
            "510181", "510182", "510183", "510184", "110101", "110105")
# Codes created in 1990 (武侯区 and its neighbours): only for people born 1990 or later.
ADDR_FROM_1990 = ("510107", "510107", "510107", "510104", "510105", "510108")

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
            "蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范廖石")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国红文辉鹏飞宇浩然欣怡"
         "子涵梓轩思雨佳琪俊杰晨曦婷婷志强春梅海燕晓东丹凤雪梅国庆永红德华")
# Simplified → traditional for characters common in names; some old records (and people
# from Hong Kong / Taiwan) carry the traditional form. All are in GBK.
TRADITIONAL = {"陈": "陳", "刘": "劉", "张": "張", "杨": "楊", "黄": "黃", "赵": "趙", "吴": "吳",
               "孙": "孫", "马": "馬", "罗": "羅", "郑": "鄭", "谢": "謝", "许": "許", "韩": "韓",
               "冯": "馮", "邓": "鄧", "国": "國", "华": "華", "丽": "麗", "军": "軍", "伟": "偉",
               "红": "紅", "东": "東", "凤": "鳳", "兰": "蘭", "涛": "濤", "鹏": "鵬", "飞": "飛"}

# Minority naming: Uyghur / Kazakh names carry the separator dot; Yi and Tibetan names don't.
DOT_FIRST = words("阿依古丽 买买提 艾力 热依拉 古丽娜尔 努尔 阿不都 帕提古丽 吐尔逊 迪丽拜尔 "
                  "阿力木 沙拉")
DOT_SECOND = words("买买提 艾山 吐尔洪 阿不来提 卡德尔 努尔兰 热合曼 哈力克 依明")
YI_NAMES = ("吉克", "阿苏", "沙马", "曲比", "阿洛", "马海", "吉伍", "海来", "俄木", "勒格")
YI_GIVEN = ("阿依", "拉哈", "木呷", "尔古", "日作", "阿呷", "石者", "伍沙")
TIBETAN = words("扎西 次仁 卓玛 央金 拉姆 多吉 格桑 德吉 尼玛 索朗 旦增 泽仁")

# GB/T 3304 code → (share, name).
ETHNICITIES: dict[str, tuple[float, str]] = {
    "01": (0.925, "汉族"), "07": (0.02, "彝族"), "04": (0.02, "藏族"), "05": (0.01, "维吾尔族"),
    "17": (0.005, "哈萨克族"), "03": (0.01, "回族"), "33": (0.005, "羌族"), "11": (0.003, "满族"),
    "97": (0.002, "其他"),
}
# GB/T 4658 code → (share, the personnel system's own label).
EDUCATIONS: dict[str, tuple[float, str]] = {
    "11": (0.01, "博士研究生"), "14": (0.06, "硕士研究生"), "21": (0.30, "大学本科"),
    "31": (0.25, "大学专科"), "41": (0.08, "中专"), "44": (0.04, "职高"), "47": (0.04, "技校"),
    "61": (0.12, "高中"), "71": (0.08, "初中"), "81": (0.02, "小学"),
}

# Employer kinds: local 金保 AAB019 code, USCC prefix, share, name pattern.
EMPLOYER_KINDS = (
    ("10", "91", 0.78), ("30", "12", 0.12), ("20", "11", 0.03), ("50", "52", 0.03),
    ("40", "51", 0.02), ("60", "92", 0.02),
)
INDUSTRIES = "ABCDEFGHIJKLMNOPQRST"
_INDUSTRY_WEIGHTS = (1, 1, 14, 2, 8, 14, 5, 8, 10, 4, 5, 8, 6, 2, 4, 4, 6, 3, 4, 1)
_COMPANY_WORDS = ("科技", "信息", "商贸", "建设", "餐饮", "物流", "文化", "医药", "电子", "网络",
                  "教育咨询", "物业管理", "房地产", "机械", "食品", "广告", "旅游", "软件")
_PUBLIC_WORDS = words("社区卫生服务中心 小学 中学 幼儿园 文化馆 档案馆 疾病预防控制中心 "
                      "就业服务中心 社会保险事务中心 街道综合服务中心 图书馆 人民医院")
_STREETS = ("浆洗街", "玉林", "火车南站", "簇桥", "红牌楼", "机投桥", "金花桥", "望江路", "跳伞塔",
            "晋阳", "簇锦", "华兴", "芳草", "石羊")
_DIVISIONS_EMPLOYER = ("510107",) * 8 + ("510104", "510105")

_HUKOU = ("10", "20", "31", "32")  # local AAC009 codes

#: Reference day of the demo world (no wall clock): hire dates end before it.
WORLD_DAY = date(2025, 6, 30)


@dataclass(slots=True)
class Employer:
    """One employer: the facts every system agrees on."""

    aab001: str
    uscc: str
    name: str
    kind: str  # local AAB019 code
    industry: str  # GB/T 4754 section
    division: str

    @property
    def public(self) -> bool:
        """Public institutions (事业单位) and agencies keep a personnel roster (花名册)."""
        return self.kind in ("30", "20")


@dataclass(slots=True)
class Person:
    """One natural person: canonical facts, then which systems know them."""

    seq: int  # running number within the world (AAC001 suffix)
    id18: str
    name: str  # simplified, separator dot U+00B7
    gender: str  # '1' / '2'
    birth: date
    ethnicity: str
    education: str
    hukou: str  # local AAC009 code
    employer: int  # index into employers, -1 = unemployed
    hire: date  # start of the current employment (or of the last one)
    prev_employer: int  # -1 = none
    prev_start: date
    phone: str
    si: bool
    api: bool
    contract: bool
    personnel: bool
    legacy15: bool  # si_core still holds the 15-digit number


def _weighted(rng: np.random.Generator, table: dict[str, tuple[float, str]], n: int) -> list[str]:
    keys = list(table)
    p = np.array([table[k][0] for k in keys], dtype=float)
    return [keys[i] for i in rng.choice(len(keys), size=n, p=p / p.sum())]


def make_uscc(rng: random.Random, prefix: str, division: str, taken: set[str]) -> str:
    """A valid USCC: prefix + division + a valid GB 11714 org code + GB 32100 check char."""
    letters = USCC_ALPHABET  # the org code inside a USCC uses the USCC alphabet too
    while True:
        if rng.random() < 0.6:  # post-2015 codes start with MA…
            body8 = "MA" + "".join(rng.choice(letters) for _ in range(6))
        else:
            body8 = "".join(rng.choice("0123456789") for _ in range(8))
        org = body8 + org_code_check_char(body8)
        if org[-1] not in letters:  # never: X and digits are in the alphabet, kept as a guard
            continue
        body17 = prefix + division + org
        code = body17 + uscc_check_char(body17)
        if code not in taken:
            taken.add(code)
            return code


def build_employers(seed: int, count: int, start_no: int, taken: set[str]) -> list[Employer]:
    """``count`` employers with unique USCCs; AAB001 numbers start at ``start_no``."""
    rng = random.Random(seed * 7919 + 17)
    kinds = [k for k, _, _ in EMPLOYER_KINDS]
    kind_w = [w for _, _, w in EMPLOYER_KINDS]
    prefix_of = {k: p for k, p, _ in EMPLOYER_KINDS}
    out: list[Employer] = []
    names: set[str] = set()
    for i in range(count):
        kind = rng.choices(kinds, kind_w)[0]
        division = rng.choice(_DIVISIONS_EMPLOYER)
        industry = rng.choices(INDUSTRIES, _INDUSTRY_WEIGHTS)[0]
        if kind in ("30", "20"):
            industry = rng.choice("PQS")
            name = f"成都市武侯区{rng.choice(_STREETS)}{rng.choice(_PUBLIC_WORDS)}"
        elif kind == "60":
            owner = rng.choice(SURNAMES) + rng.choice(GIVEN)
            name = f"武侯区{owner}{rng.choice(_COMPANY_WORDS)}经营部"
        else:
            suffix = "协会" if kind == "40" else "服务中心" if kind == "50" else "有限公司"
            name = (f"成都{rng.choice(_STREETS)}{rng.choice(GIVEN)}{rng.choice(GIVEN)}"
                    f"{rng.choice(_COMPANY_WORDS)}{suffix}")
        base, k = name, 2
        while name in names:  # registered names are unique
            name = f"{base}（{k}）" if not base.endswith("）") else f"{base}{k}"
            k += 1
        names.add(name)
        uscc = make_uscc(rng, prefix_of[kind], division, taken)
        out.append(Employer(f"B{start_no + i:09d}", uscc, name, kind, industry, division))
    return out


def _name(rng: random.Random, ethnicity: str) -> str:
    if ethnicity in ("05", "17"):
        return f"{rng.choice(DOT_FIRST)}\u00b7{rng.choice(DOT_SECOND)}"
    if ethnicity == "07":
        return rng.choice(YI_NAMES) + rng.choice(YI_GIVEN)
    if ethnicity == "04":
        return rng.choice(TIBETAN) + rng.choice(TIBETAN)
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)


def _citizen_ids(nrng: np.random.Generator, births: np.ndarray, genders: np.ndarray) -> list[str]:
    """Valid 18-digit IDs, vectorized (the check char via a matrix product of the digits).

    People born 1990 or later get a 1990-era Chengdu code (武侯区 mostly) 60 % of the time;
    everyone else a code in force for any birth year (see ADDR_ANY).
    """
    n = len(births)
    any_codes = np.array(ADDR_ANY)
    new_codes = np.array(ADDR_FROM_1990)
    years = np.array([date.fromordinal(int(d)).year for d in births])
    use_new = (years >= 1990) & (nrng.random(n) < 0.6)
    addr = np.where(use_new, new_codes[nrng.integers(0, len(new_codes), n)],
                    any_codes[nrng.integers(0, len(any_codes), n)])
    seq3 = nrng.integers(0, 500, n) * 2 + (genders == 1)
    bodies = [f"{a}{date.fromordinal(int(d)):%Y%m%d}{s:03d}"
              for a, d, s in zip(addr.tolist(), births.tolist(), seq3.tolist(), strict=True)]
    digits = np.frombuffer("".join(bodies).encode("ascii"), dtype=np.uint8).reshape(n, 17) - 48
    checks = (digits.astype(np.int64) @ _WEIGHTS) % 11
    table = "10X98765432"
    return [body + table[c] for body, c in zip(bodies, checks.tolist(), strict=True)]


def build_persons(seed: int, count: int, start_seq: int, employers: list[Employer],
                  taken: set[str]) -> list[Person]:
    """``count`` people with unique, valid citizen IDs (added to ``taken``)."""
    rng = random.Random(seed * 104729 + 3)
    nrng = np.random.default_rng(seed * 104729 + 5)
    n = count
    # birth days between 1962-01-01 and 2003-12-31 (working age in 2025)
    lo, hi = date(1962, 1, 1).toordinal(), date(2003, 12, 31).toordinal()
    births = nrng.integers(lo, hi + 1, size=n)
    genders = nrng.integers(1, 3, size=n)
    ethnicities = _weighted(nrng, ETHNICITIES, n)
    educations = _weighted(nrng, EDUCATIONS, n)
    employed = nrng.random(n) < 0.9
    u = nrng.random((n, 6))
    ids = _citizen_ids(nrng, births, genders)
    public_idx = [i for i, e in enumerate(employers) if e.public]
    m = max(1, len(employers))
    # every per-person draw is made up front, vectorized; Python lists index fast
    pick_public = nrng.integers(0, max(1, len(public_idx)), n).tolist()
    pick_any = nrng.integers(0, m, n).tolist()
    pick_prev = nrng.integers(0, m, n).tolist()
    hire_u = nrng.random(n).tolist()
    prev_gap = nrng.integers(400, 1501, n).tolist()
    hukou = nrng.integers(0, 4, n).tolist()
    phone_prefix = nrng.integers(0, 4, n).tolist()
    phone_no = nrng.integers(0, 10**9, n).tolist()
    births_l, genders_l, employed_l, u_l = births.tolist(), genders.tolist(), employed.tolist(), \
        u.tolist()
    latest = date(2024, 12, 31).toordinal()
    floor_2008 = date(2008, 1, 1)
    out: list[Person] = []
    for i in range(n):
        birth = date.fromordinal(births_l[i])
        gender = "1" if genders_l[i] == 1 else "2"
        id18 = ids[i]
        while id18 in taken:  # rare: redraw the sequence number
            seq3 = rng.randrange(0, 500) * 2 + (1 if gender == "1" else 0)
            body = id18[:14] + f"{seq3:03d}"
            id18 = body + citizen_id_check_char(body)
        taken.add(id18)
        ui = u_l[i]
        emp = -1
        if employed_l[i] and employers:
            # public institutions employ ~15 % of the workforce
            emp = public_idx[pick_public[i]] if public_idx and ui[0] < 0.15 else pick_any[i]
        earliest = min(max(date(birth.year + 18, birth.month, 1), floor_2008).toordinal(), latest)
        hire = date.fromordinal(earliest + int(hire_u[i] * (latest - earliest + 1)))
        prev_emp, prev_start = -1, hire
        if emp >= 0 and ui[1] < 0.1 and hire.year >= 2012 and len(employers) > 1:
            prev_emp = pick_prev[i] if pick_prev[i] != emp else (emp + 1) % m
            prev_start = hire - timedelta(days=prev_gap[i])
        is_emp = emp >= 0
        out.append(Person(
            seq=start_seq + i, id18=id18, name=_name(rng, ethnicities[i]), gender=gender,
            birth=birth, ethnicity=ethnicities[i], education=educations[i],
            hukou=_HUKOU[hukou[i]], employer=emp, hire=hire,
            prev_employer=prev_emp, prev_start=prev_start,
            phone=f"1{'3578'[phone_prefix[i]]}{phone_no[i]:09d}",
            si=ui[2] < (0.97 if is_emp else 0.3),
            api=not is_emp or ui[3] < 0.5,
            contract=is_emp and ui[4] < 0.85,
            personnel=is_emp and employers[emp].public and ui[5] < 0.95,
            legacy15=birth.year < 1985 and ui[5] > 0.85,
        ))
    return out
