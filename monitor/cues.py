"""The cue vocabulary of the hardware-partnership detector: data, compiled once.

Partnership cues announce two parties doing something together; hardware cues name the physical
thing it is about, grouped by the event object they point to; stage cues say how far along the
deal is; contrary cues mark the look-alikes (lawsuits, funding rounds, stock moves, price reports,
launches, acquisitions, software and cloud deals) that mention a company and hardware words
without being a hardware partnership. Latin cues match case-insensitively on word boundaries,
CJK cues as substrings. Each group is one compiled expression with one named group per category,
so one scan tells which category matched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence

from monitor.entities import NOT_AFTER_LETTER, NOT_BEFORE_LETTER

# fmt: off
# Strong: the words themselves say "two parties agreed". Weak: verbs that also describe one
# company acting alone ("picks", "to build"), which need a second party to count fully.
PARTNERSHIP: Mapping[str, Sequence[str]] = {
    "strong": (
        r"deals?", r"agreements?", r"pacts?", r"partnerships?", r"alliance", r"tie-?ups?",
        r"tie up", r"joint venture", r"memorandum of understanding", r"mou",
        r"partner(?:s|ed|ing)? (?:with|on|to)", r"teams? up", r"teamed up",
        r"join(?:s|ed)? forces", r"signs?", r"signed", r"inks?", r"inked", r"contract to",
        r"(?:wins?|won|secures?|secured|lands?|landed|awarded|bags?|bagged) (?:an? |the )?"
        r"(?:\w+ ){0,3}(?:contracts?|orders?)",
        r"supply (?:deal|agreement|contract|pact)", r"supplier (?:for|to)",
        r"agree(?:s|d)? to", r"works? with", r"working with", r"worked with",
        r"as (?:a |an |its |the |their )?(?:\w+ ){0,2}(?:supplier|partner|customer|"
        r"manufacturer|assembler|foundry|vendor)",
        r"(?:forms?|formed|sets? up|set up|launch(?:es|ed)?) (?:a |an )?(?:joint )?ventures?",
        r"(?:fabricated|made|manufactured|built|assembled|produced|packaged|supplied|designed) by",
        r"co-?develop(?:s|ed|ing|ment)?", r"co-?design(?:s|ed|ing)?", r"co-?engineer(?:s|ed)?",
        r"invest(?:s|ed|ing)? in", r"collaborat(?:e|es|ed|ing|ion)",
        # other languages: German, French, Spanish
        r"partnerschaft", r"vertrag", r"liefervertrag", r"kooperation", r"partenariat",
        r"accord", r"alianza", r"acuerdo", r"contrato",
    ),
    "weak": (
        r"taps?", r"tapped", r"tapping", r"picks?", r"picked", r"selects?", r"selected",
        r"enlists?", r"enlisted", r"hires?", r"hired", r"chooses", r"chose", r"turns? to",
        r"orders?", r"ordered", r"talks", r"negotiations?", r"books?", r"booked", r"reserves?",
        r"reserved",
        r"(?:to|will|would|could|is to|are to|set to) (?:supply|manufacture|assemble|build|"
        r"produce|make|fabricate|develop|design|package|deliver|provide)",
        r"(?:supplies|supplied|supplying|manufactures|manufactured|manufacturing|assembles|"
        r"assembled|assembling|fabricates|fabricated|packages|packaged|provides|provided) "
        r"(?:the|its|their|a|an|\w+'s)",
        r"(?:begins?|began|starts?|started) (?:producing|making|mass[- ]producing|shipping|"
        r"supplying|building)", r"mass[- ]produc(?:e|es|ed|ing|tion)",
    ),
}
PARTNERSHIP_CJK: Mapping[str, Sequence[str]] = {
    "strong": (
        "合作", "协议", "協議", "签署", "簽署", "签约", "簽約", "联手", "聯手", "携手", "攜手",
        "牵手", "代工", "合资", "结盟", "入股", "委托", "承接", "敲定", "达成", "拿下", "订单",
        "訂單", "供应协议", "供货", "合同", "提携", "契約", "協業", "共同開発", "受注",
        "파트너십", "계약", "협력", "제휴", "수주", "合弁", "위탁생산",
    ),
    "weak": (
        "选择", "选定", "选中", "为其", "打造", "供应", "供應", "採用", "공급", "洽谈", "洽談",
        "商谈", "谈判",
    ),
}
HARDWARE: Mapping[str, Sequence[str]] = {
    "memory supply": (
        r"hbm\d?e?", r"dram", r"nand", r"memory", r"ssds?", r"storage chips?", r"lpddr\d?x?",
    ),
    "custom chip": (
        r"asics?", r"custom (?:ai )?(?:chips?|silicon|accelerators?|processors?)", r"tpus?",
        r"npus?", r"accelerators?", r"in-house chips?",
    ),
    "packaging": (r"cowos", r"packaging", r"advanced packaging", r"substrates?", r"chiplets?"),
    "foundry": (r"wafers?", r"foundry", r"fabs?", r"\d+ ?nm", r"process node"),
    "servers": (
        r"servers?", r"server racks?", r"racks?", r"data[- ]cent(?:er|re) hardware",
        r"supercomputers?", r"ai factor(?:y|ies)", r"data[- ]cent(?:er|re) equipment",
        r"servidores?", r"serveurs?", r"ai clusters?", r"gpu clusters?", r"networking gear",
        r"switch(?:es)?",
    ),
    "assembly": (r"assembly", r"assembl(?:e|es|ed|ing)", r"final assembly"),
    "device": (
        r"devices?", r"gadgets?", r"hardware", r"smartphones?", r"phones?", r"wearables?",
        r"earbuds", r"smart glasses", r"glasses", r"headsets?", r"laptops?", r"pcs?",
        r"robots?", r"handsets?", r"tablets?", r"speakers?", r"pins?",
    ),
    "chips": (
        r"chips?", r"chipsets?", r"systems?-on-(?:a-)?chips?", r"socs?", r"semiconductors?",
        r"gpus?", r"processors?", r"silicon",
        r"halbleiter", r"puces?", r"semiconducteurs?",
    ),
    "components": (
        r"modules?", r"sensors?", r"displays?", r"panels?", r"batter(?:y|ies)", r"cameras?",
        r"components?", r"optical transceivers?", r"connectors?", r"fib(?:er|re)s?",
        r"image sensors?", r"cables?", r"enclosures?",
    ),
}
HARDWARE_CJK: Mapping[str, Sequence[str]] = {
    "memory supply": ("内存", "存储芯片", "存储器", "显存", "高带宽内存", "メモリ", "메모리"),
    "custom chip": ("定制芯片", "自研芯片", "专用芯片", "加速器", "ASIC芯片", "カスタムチップ"),
    "packaging": ("封装", "封測", "封测", "基板"),
    "foundry": ("晶圆", "晶圓", "制程", "製程", "工艺节点"),
    "servers": ("服务器", "伺服器", "机柜", "機櫃", "算力集群", "サーバー", "서버"),
    "assembly": ("组装", "組裝", "代工"),
    "device": (
        "设备", "設備", "硬件", "硬體", "装置", "裝置", "终端", "手机", "耳机", "眼镜",
        "端末", "デバイス", "기기", "단말",
    ),
    "chips": ("芯片", "晶片", "半导体", "半導體", "处理器", "半導体", "チップ", "반도체", "칩"),
    "components": ("模组", "模組", "零部件", "元器件", "屏幕", "面板", "电池", "部品"),
}
# Stage cues, looked for in the title and the evidence. Without one a story reads as announced.
STAGE: Mapping[str, Sequence[str]] = {
    "ended": (
        r"ends?", r"ended", r"terminat(?:e|es|ed|ing)", r"cancels?", r"cancell?ed", r"scraps?",
        r"scrapped", r"pulls? out", r"pulled out", r"drops?", r"dropped", r"walks? away",
        r"halts?", r"halted", r"collapses?", r"collapsed", r"exits?",
    ),
    "confirmed": (r"confirms?", r"confirmed", r"officially", r"finali[sz](?:e|es|ed)"),
    "rumoured": (
        r"reportedly", r"rumou?red?s?", r"in talks", r"talks with", r"said to", r"sources? say",
        r"people familiar", r"according to (?:people|sources|a report)", r"considering",
        r"consider(?:s|ed)?", r"weighs?", r"weighing", r"may", r"could", r"mulls?",
        r"explor(?:e|es|ing)", r"in discussions?", r"nears?", r"close to", r"plans? to",
        r"eyes", r"eyeing", r"report:", r"reports? say",
    ),
}
STAGE_CJK: Mapping[str, Sequence[str]] = {
    "ended": ("终止", "終止", "取消", "解约", "解約", "叫停", "退出", "中止"),
    "confirmed": ("证实", "證實", "确认", "確認", "官宣", "正式"),
    "rumoured": (
        "据悉", "據悉", "传出", "傳出", "传闻", "傳聞", "消息人士", "知情人士", "洽谈", "洽談",
        "考虑", "考慮", "或将", "或將", "拟", "擬", "有望", "報道", "报道称", "据报道",
    ),
}
# Look-alikes. Each names what the story is instead; one in the title or the evidence sentence
# lowers the score, because it says the hardware words there are about something else.
CONTRARY: Mapping[str, Sequence[str]] = {
    "lawsuit": (
        r"sues?", r"sued", r"suing", r"lawsuits?", r"litigation", r"court", r"patent "
        r"(?:suit|case|dispute|infringement)", r"antitrust", r"probe", r"investigation",
        r"fined", r"complaint", r"injunction", r"verdict",
    ),
    "funding": (
        r"funding", r"raises? \$?\d", r"raised \$?\d", r"series [a-h]\b", r"valuation",
        r"valued at", r"ipo", r"round led by", r"seed round", r"tender offer",
    ),
    "stock move": (
        r"shares? (?:rise|rises|rose|fall|falls|fell|jump|jumps|jumped|drop|drops|dropped|"
        r"surge|surges|surged|slump|slumps|slumped|soar|soars|soared|climb|climbs|climbed|"
        r"slide|slides|slid|gain|gains|gained|tumble|tumbles|tumbled)", r"stock (?:price|"
        r"rises|falls|jumps|drops|surges|slumps)", r"stocks?", r"market cap",
        r"price target", r"analyst (?:upgrade|downgrade)s?",
    ),
    "results": (
        r"quarter(?:ly)?", r"earnings", r"revenue", r"profits?", r"guidance", r"q[1-4]",
        r"results", r"sales (?:rose|fell|grew|jumped)", r"fiscal",
    ),
    "price report": (
        r"prices?", r"contract prices?", r"spot prices?", r"price hikes?", r"pricing",
        r"shortage", r"inventory", r"shipments? (?:rise|fall|grew|fell)",
    ),
    "launch": (
        r"launch(?:es|ed|ing)", r"releases?", r"released", r"unveils?", r"unveiled", r"debuts",
        r"debuted",
        r"introduces?", r"rolls? out",
        r"(?:ai|language|new|reasoning|open[- ]weights?|frontier) models?", r"gpt-?\d", r"chatbot",
        r"app", r"review",
        r"hands-on", r"benchmarks?",
    ),
    "acquisition": (
        r"acquires?", r"acquired", r"acquisition", r"buys?", r"bought", r"takeover", r"merger",
        r"to acquire", r"to buy",
    ),
    "policy": (
        r"export (?:rules?|controls?|curbs?|bans?|restrictions?|licen[cs]es?)", r"sanctions?",
        r"tariffs?", r"commerce department", r"entity list", r"chips act", r"subsid(?:y|ies)",
    ),
    "software or cloud": (
        r"cloud (?:deal|capacity|computing|services?|credits?|contract)", r"compute capacity",
        r"computing capacity", r"software", r"licen[cs](?:e|es|ed|ing)",
        r"content (?:deal|licensing|partnership|agreement)",
        r"api", r"subscriptions?", r"assistants?", r"pre-?installed",
        r"(?:dedicated|compute|computing|cloud|gpu) capacity", r"(?:in|into) chatgpt",
        r"copilot", r"saas",
        r"enterprise customers?",
        r"publishers?", r"news ?corp", r"media (?:deal|partnership)",
    ),
}
CONTRARY_CJK: Mapping[str, Sequence[str]] = {
    "lawsuit": ("起诉", "诉讼", "訴訟", "官司", "侵权", "罚款", "反垄断", "调查"),
    "funding": ("融资", "融資", "估值", "IPO", "轮融资"),
    "stock move": ("股价", "股價", "涨停", "跌停", "大涨", "大跌", "市值", "股份上涨"),
    "results": ("财报", "財報", "季度", "营收", "營收", "净利", "淨利", "业绩", "業績"),
    "price report": ("价格", "價格", "合约价", "涨价", "报价", "出货量", "库存"),
    "launch": ("发布", "發布", "推出", "上线", "模型", "大模型", "评测"),
    "acquisition": ("收购", "收購", "并购", "併購"),
    "policy": ("出口管制", "出口限制", "关税", "關稅", "制裁", "补贴", "補貼"),
    "software or cloud": ("软件", "軟體", "云服务", "云计算", "授权"),
}
# Words that make a following organisation a passing mention: "rivals like OpenAI", "including
# Nvidia and AMD", "包括英伟达在内". Looked for just before the mention.
PASSING = (
    r"like", r"such as", r"including", r"the likes of", r"rivals?", r"competitors?", r"peers",
    r"as well as", r"alongside", r"unlike", r"similar to", r"compared with", r"versus", r"vs\.?",
    r"customers? (?:include|including|such as)",
)
PASSING_CJK = ("包括", "例如", "诸如", "像", "如同", "以及", "对手", "竞争对手", "等公司")
# Fragments every Latin cue match contains (in lower case): a sentence with none of them and no
# CJK character holds no cue, and is not scanned. Scanning with the full expressions is what
# costs; this check is a few substring tests. tests/test_detect.py checks that the fragments
# cover every cue found in the fixtures and the evaluation set.
PARTNERSHIP_STEMS = (
    "deal", "agree", "pact", "partner", "allian", "tie-up", "tie up", "tieup", "joint",
    "memorandum", "mou", "team", "join", "sign", "inks", "inked", "contract", "order", "suppl",
    "work", "customer", "manufactur",
    "assembl", "foundry", "vendor", "venture", "fabricat", "made", "built", "produc", "packag",
    "design", "develop", "engineer", "invest", "collaborat", "vertrag", "kooperation",
    "partenar", "accord", "alianz", "acuerdo", "contrat", "tap", "pick", "select", "enlist",
    "hire", "choose", "chose", "turn", "talks", "negotiat", "book", "reserv", "build", "mak",
    "deliver", "provid", "ship",
)
HARDWARE_STEMS = (
    "hbm", "dram", "nand", "memory", "ssd", "storage", "lpddr", "asic", "custom", "tpu", "npu",
    "accelerator", "chip", "cowos", "packag", "substrate", "wafer", "foundry", "fab", "nm",
    "node", "server", "rack", "hardware", "equipment", "computer", "factor", "servidor",
    "serveur", "cluster", "gear", "switch", "assembl", "device", "gadget", "phone", "wearable",
    "earbud", "glasses", "headset", "laptop", "pc", "robot", "handset", "tablet", "speaker",
    "pin", "soc", "semiconduct", "gpu", "processor", "silicon", "halbleiter", "puce", "module",
    "sensor", "display", "panel", "batter", "camera", "component", "transceiver", "connector",
    "fib", "cable", "enclosure",
)
# fmt: on
_ANY_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def _alternatives(latin: Sequence[str], cjk: Sequence[str]) -> str:
    words = NOT_AFTER_LETTER + r"(?<!-)(?:" + "|".join(latin) + r")(?!-)" + NOT_BEFORE_LETTER
    return words + ("|" + "|".join(re.escape(c) for c in cjk) if cjk else "")


def _grouped(
    latin: Mapping[str, Sequence[str]],
    cjk: Mapping[str, Sequence[str]],
    stems: Sequence[str] | None = None,
) -> Grouped:
    """One expression, one named group per category (the group name is the category's index)."""
    names = list(dict.fromkeys([*latin, *cjk]))

    def expression(fold: Callable[[str], str]) -> str:
        parts = [
            f"(?P<g{i}>{_alternatives(latin.get(name, ()), [fold(c) for c in cjk.get(name, ())])})"
            for i, name in enumerate(names)
        ]
        # Where no alternative can start (inside a word, mostly), fail once instead of trying
        # every group: the guard holds wherever any latin word or CJK cue could begin.
        starts = "".join(sorted({fold(c)[0] for cues in cjk.values() for c in cues}))
        guard = NOT_AFTER_LETTER + r"(?<!-)" + (f"|(?=[{re.escape(starts)}])" if starts else "")
        return f"(?:{guard})(?:{'|'.join(parts)})"

    return Grouped(
        re.compile(expression(str), re.I),
        re.compile(expression(str.lower)),
        {f"g{i}": n for i, n in enumerate(names)},
        stems,
    )


class Grouped:
    """A compiled cue group: ``scan`` yields (start, end, category, text) for each cue.

    Scanning is the costliest step of a poll's parse work, so it runs on the lower-cased text
    with ``lowered``, the same expression without re.IGNORECASE: the regular expression engine
    skips a branch whose first literal character differs without entering it, but only for
    case-sensitive literals, which makes the scan about three times faster. ``pattern`` (with
    re.IGNORECASE) reads the rare text whose lower-case form differs in length ("İ").
    """

    def __init__(
        self,
        pattern: re.Pattern[str],
        lowered: re.Pattern[str],
        categories: Mapping[str, str],
        stems: Sequence[str] | None = None,
    ) -> None:
        self.pattern = pattern
        self.lowered = lowered
        self.categories = categories
        self.stems = tuple(stems) if stems is not None else None

    def may_hold(self, text: str) -> bool:
        """False only when the text surely holds no cue of this group."""
        return self._may_hold(text.lower())

    def _may_hold(self, low: str) -> bool:
        if self.stems is None or _ANY_CJK.search(low):
            return True
        return any(stem in low for stem in self.stems)

    def _matches(self, text: str) -> Iterator[re.Match[str]]:
        low = text.lower()
        if not self._may_hold(low):
            return iter(())
        if len(low) == len(text):
            return self.lowered.finditer(low)
        return self.pattern.finditer(text)

    def holds(self, text: str) -> bool:
        """Whether the text holds at least one cue of this group."""
        return next(self._matches(text), None) is not None

    def scan(self, text: str) -> list[tuple[int, int, str, str]]:
        return [
            (m.start(), m.end(), self.categories[m.lastgroup or ""], text[m.start() : m.end()])
            for m in self._matches(text)
        ]


PARTNERSHIP_CUES = _grouped(PARTNERSHIP, PARTNERSHIP_CJK, PARTNERSHIP_STEMS)
HARDWARE_CUES = _grouped(HARDWARE, HARDWARE_CJK, HARDWARE_STEMS)
STAGE_CUES = _grouped(STAGE, STAGE_CJK)
CONTRARY_CUES = _grouped(CONTRARY, CONTRARY_CJK)
# Between the trigger and the mention only a list may stand: names, commas, "and", "、".
# Case matters here (names are capitalised), so only the trigger ignores case.
_LIST_GAP = r"(?:[\s,、，]|and|or|[A-Z0-9][\w&.\-]*+|[\u4e00-\u9fff]{1,6}[、，和与及])*+"
PASSING_RE = re.compile(r"(?i:" + _alternatives(PASSING, PASSING_CJK) + r")" + _LIST_GAP + "$")
# The single-expression forms older code used to ask "any cue here?".
PARTNERSHIP_RE = PARTNERSHIP_CUES.pattern
HARDWARE_RE = HARDWARE_CUES.pattern
