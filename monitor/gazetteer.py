"""Organisations that make, assemble or commission hardware, with aliases in English and Chinese.

Used to find the other party in a partnership ("OpenAI taps Luxshare") and to tell stories apart by
who is involved. Watched entities from the config are added on top and win on a name clash.
A later, larger gazetteer replaces this starter list; keep it data only.
"""

from __future__ import annotations

ORGANISATIONS: dict[str, tuple[str, ...]] = {
    # contract manufacturers and assemblers
    "Foxconn": ("Foxconn", "Hon Hai", "Hon Hai Precision", "鸿海", "富士康"),
    "Luxshare": ("Luxshare", "Luxshare Precision", "立讯精密", "立讯"),
    "Pegatron": ("Pegatron", "和硕"),
    "Quanta": ("Quanta Computer", "广达"),
    "Wistron": ("Wistron", "纬创"),
    "Wiwynn": ("Wiwynn", "纬颖"),
    "Inventec": ("Inventec", "英业达"),
    "Compal": ("Compal", "仁宝"),
    "Jabil": ("Jabil",),
    "Flex": ("Flex Ltd",),
    "Goertek": ("Goertek", "歌尔", "歌尔股份"),
    "BYD Electronic": ("BYD Electronic", "比亚迪电子"),
    # foundries and packaging
    "TSMC": ("TSMC", "Taiwan Semiconductor", "台积电"),
    "Samsung": ("Samsung", "Samsung Electronics", "三星"),
    "Intel": ("Intel", "英特尔"),
    "GlobalFoundries": ("GlobalFoundries", "格芯"),
    "SMIC": ("SMIC", "中芯国际"),
    "ASE": ("ASE Technology", "日月光"),
    "Amkor": ("Amkor",),
    # chip designers
    "Nvidia": ("Nvidia", "英伟达", "辉达"),
    "AMD": ("AMD", "Advanced Micro Devices", "超威"),
    "Broadcom": ("Broadcom", "博通"),
    "Marvell": ("Marvell", "迈威尔"),
    "Qualcomm": ("Qualcomm", "高通"),
    "Arm": ("Arm Holdings",),
    "MediaTek": ("MediaTek", "联发科"),
    "Cerebras": ("Cerebras",),
    "Groq": ("Groq",),
    # memory
    "SK hynix": ("SK hynix", "SK Hynix", "海力士", "SK海力士"),
    "Micron": ("Micron", "美光"),
    "Kioxia": ("Kioxia", "铠侠"),
    # servers and systems
    "Supermicro": ("Supermicro", "Super Micro", "超微"),
    "Dell": ("Dell", "戴尔"),
    "HPE": ("HPE", "Hewlett Packard Enterprise", "慧与"),
    "Lenovo": ("Lenovo", "联想"),
    "Inspur": ("Inspur", "浪潮"),
    # companies that commission hardware
    "Apple": ("Apple", "苹果"),
    "OpenAI": ("OpenAI",),
    "Microsoft": ("Microsoft", "微软"),
    "Google": ("Google", "Alphabet", "谷歌"),
    "Amazon": ("Amazon", "AWS", "亚马逊"),
    "Meta": ("Meta Platforms", "Meta", "脸书"),
    "Oracle": ("Oracle", "甲骨文"),
    "Anthropic": ("Anthropic",),
    "xAI": ("xAI",),
    "Tesla": ("Tesla", "特斯拉"),
    "io": ("io Products",),
}
