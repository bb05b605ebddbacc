"""The cue vocabulary of the hardware-partnership matcher: data, compiled once.

Partnership cues announce two parties doing something together; hardware cues name the physical
thing it is about. Latin cues match case-insensitively on word boundaries, CJK cues as substrings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from monitor.entities import NOT_AFTER_LETTER, NOT_BEFORE_LETTER

# fmt: off
PARTNERSHIP = (
    r"deals?", r"agreements?", r"pacts?", r"partnership", r"alliance", r"tie-?ups?",
    r"tie up", r"joint venture", r"memorandum of understanding", r"mou",
    r"partner(?:s|ed|ing)? (?:with|on)", r"teams? up", r"teamed up",
    r"join(?:s|ed)? forces", r"taps?", r"tapped", r"tapping", r"picks?", r"picked",
    r"selects?", r"selected", r"enlists?", r"enlisted", r"hires?", r"hired",
    r"chooses", r"chose", r"signs?", r"signed", r"inks?", r"inked", r"contract to",
    r"(?:wins?|won|secures?|secured|lands?|landed|awarded) (?:an? |the )?(?:\w+ ){0,2}"
    r"(?:contract|orders?)",
    r"(?:to|will|would|could|is to|are to) (?:supply|manufacture|assemble|build|produce|make|"
    r"fabricate|co-develop|develop|design|package)",
    r"co-?develop(?:s|ed|ing|ment)?", r"co-?design(?:s|ed|ing)?",
    r"invest(?:s|ed|ing)? in", r"supply (?:deal|agreement|contract)", r"supplier for",
    r"assembl(?:e|es|ed|ing) (?:the|its|a|an)",
    r"manufactur(?:e|es|ed|ing) (?:the|its|a|an)",
)
PARTNERSHIP_CJK = (
    "合作", "协议", "協議", "签署", "簽署", "签约", "簽約", "联手", "聯手", "携手", "攜手",
    "牵手", "代工", "合资", "结盟", "入股", "委托", "承接", "敲定", "达成", "拿下", "订单",
)
HARDWARE = (
    r"chips?", r"chipsets?", r"semiconductors?", r"asics?", r"gpus?", r"tpus?",
    r"npus?", r"accelerators?", r"processors?", r"silicon", r"wafers?", r"foundry",
    r"hbm\d?e?", r"dram", r"nand", r"memory", r"servers?", r"server racks?", r"racks?",
    r"data[- ]cent(?:er|re) hardware", r"devices?", r"gadgets?", r"hardware",
    r"smartphones?", r"wearables?", r"earbuds", r"smart glasses", r"headsets?",
    r"supercomputers?", r"assembly", r"packaging", r"cowos", r"substrates?",
    r"modules?", r"handsets?", r"laptops?", r"robots?", r"sensors?",
)
HARDWARE_CJK = (
    "芯片", "晶片", "半导体", "半導體", "处理器", "加速器", "服务器", "伺服器", "设备",
    "設備", "硬件", "硬體", "装置", "裝置", "晶圆", "内存", "存储", "组装", "組裝", "机柜",
    "终端", "封装",
)
# fmt: on


def _compile(latin: Iterable[str], cjk: Iterable[str]) -> re.Pattern[str]:
    words = NOT_AFTER_LETTER + r"(?<!-)(?:" + "|".join(latin) + r")(?!-)" + NOT_BEFORE_LETTER
    return re.compile(words + "|" + "|".join(re.escape(c) for c in cjk), re.I)


PARTNERSHIP_RE = _compile(PARTNERSHIP, PARTNERSHIP_CJK)
HARDWARE_RE = _compile(HARDWARE, HARDWARE_CJK)
