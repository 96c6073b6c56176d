"""Reserved messages (预留信息, AU-13): a phrase the customer recognises, shown after the
login name and before the password, so a look-alike site cannot show it.

Every login has one (a random phrase until the customer chooses their own), and a name
that does not exist gets a stable decoy from the same list, so the page does not tell
whether a name exists."""

from __future__ import annotations

import secrets

from wangyin.core.crypto import blind_index

PHRASES = (
    "春风十里", "青山绿水", "海阔天空", "星河万里", "明月清风", "云卷云舒", "山高水长",
    "花好月圆", "岁月静好", "鹏程万里", "金色秋天", "小桥流水", "晨光微露", "松风竹韵",
    "江南烟雨", "北国风光", "稻花飘香", "雪落无声", "长河落日", "桃李春风", "梅兰竹菊",
    "夏日荷塘", "秋水长天", "冬日暖阳",
)


def random_phrase() -> str:
    return secrets.choice(PHRASES)


def decoy_for(login_name: str) -> str:
    digest = blind_index(login_name.strip().lower(), purpose="identity.reserved.decoy")
    return PHRASES[int(digest[:8], 16) % len(PHRASES)]
