"""Remove page furniture from scraped article text and read the title and date it states.

Scrapes mix the article with site chrome: breadcrumbs, language menus, "Related" and "Ranking"
lists, "See also" teasers, subscription and comment prompts, vote counters, photo credits and
lists of unrelated headlines. Anything left here becomes retrievable and citable, so the rule is:
a line survives only if it reads like article prose. Lines are judged by shape (length,
punctuation, bullets) and by a small vocabulary of furniture phrases, never by topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A line that opens a list of links: the header itself and the list under it are furniture.
LIST_HEADER_RE = re.compile(
    r"^\W*(related( articles| stories| news| coverage| content| posts| links)?|ranking|rankings|"
    r"recommendations?|recommended( for you| stories| reading)?|further reading|read more|read next|"
    r"more (from|on|in|stories|news)\b.*|most (read|popular|viewed|shared)|trending( now)?|"
    r"you (may|might) also like|see also|popular( now| stories)?|latest( news| stories)?|"
    r"top stories|editor'?s picks|also read|what to read next|in other news|more headlines)\W*$",
    re.IGNORECASE,
)

# Single lines that are furniture wherever they stand.
FURNITURE_LINE_RES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^\s*see also\b",  # "See also  Mozambique: ..." teasers
        r"^\s*(also read|read more|read also|watch|listen)\s*[:|-]",
        r"^\s*current\s*:",  # "Current: Home > ..."
        r"^\s*(home|news|start)\s*[>»/|]",  # breadcrumbs
        r"\s[>»]\s.*\s[>»]\s",  # "A > B > C"
        r"^\s*[\w!]{1,20}\s*\(\s*\d[\d,.]*\s*[kKmM]?\s*\)\s*$",  # vote counters: "veryGood! (294)"
        r"^\s*(like|likes|upvotes?|votes?|shares?|comments?|views?)\s*[:(]?\s*\d[\d,.]*\s*\)?\s*$",
        r"^\s*\d[\d,.]*\s*(likes?|votes?|comments?|shares?|views?)\s*$",
        r"\bsubscri(be|ber|ption)s?\b",
        r"\bbookmark",
        r"\bnewsletter\b",
        r"\bsign (up|in)\b|\blog ?in\b|\bregister (now|here|for free)\b",
        r"\bleave a (reply|comment)\b",
        r"\bemail address will not be published\b|\brequired fields are marked\b",
        r"\bcomment(s|ing)? (forum|section|policy|below)\b|\bjoin (our|the) (conversation|discussion|debate)\b",
        r"\b(follow|join) (other )?[\w\s-]{0,30}readers\b|\bsee their replies\b",
        r"\bjoin [\w\s-]{0,30}conversations\b",
        r"\b(share|follow us) on (facebook|twitter|x|linkedin|whatsapp)\b|^\s*share( this( article| story)?)?\s*$",
        r"\ball rights reserved\b|^\s*©|\bcopyright \d{4}\b",
        r"\b(getty images|shutterstock|reuters/|ap photo|afp via getty)\b",
        r"^\s*(file )?(photo|image|picture|video)( credit)?\s*(:|$)",
        r"^\s*advertisement\s*$|^\s*ad\s*$|^\s*sponsored( content)?\s*$",
        r"^\s*(click|tap) here\b|\bdownload (our|the) app\b",
        r"^\s*(tags?|topics?|categories|filed under)\s*:",
        r"^\s*[-–—•*|·.]+\s*$",  # lone separators
    )
]

# Language pickers: several language names run together in one line.
LANGUAGE_NAMES = (
    "english", "français", "deutsch", "español", "português", "italiano", "русский", "日本語",
    "한국어", "한어", "中文", "indonesian", "العربية", "ελληνικά", "suomalainen", "latina", "sanskrit",
    "türkçe", "polski", "nederlands", "svenska", "हिन्दी",
)

BULLET_RE = re.compile(r"^\s*([-–—•*·▪►]|\d{1,2}[.)])\s+")
SENTENCE_END_RE = re.compile(r"[.!?…][\"'”’»)\]]*\s*$|[\"”’»]\s*$")
ISO_DATE_RE = re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b")
MONTHS = (
    "january february march april may june july august september october november december".split()
)
TEXT_DATE_RE = re.compile(
    r"\b(?:(\d{1,2})\s+)?(" + "|".join(m[:3] for m in MONTHS) + r")[a-z]*\.?\s+(?:(\d{1,2}),?\s+)?((?:19|20)\d\d)\b",
    re.IGNORECASE,
)
DATELINE_AGENCY_RE = re.compile(r"^[A-Z][A-Za-z .,'-]{1,40}\((AP|Reuters|AFP|UPI|Bloomberg|dpa)\)")
AGENCIES = {
    "AP": "Associated Press", "Reuters": "Reuters", "AFP": "Agence France-Presse",
    "UPI": "United Press International", "Bloomberg": "Bloomberg", "dpa": "dpa",
}


@dataclass
class CleanedText:
    text: str
    title: str | None = None
    published: str | None = None
    publisher: str | None = None
    removed: list[tuple[str, str]] = field(default_factory=list)  # (reason, line), for debugging


FURNITURE_MAX_WORDS = 30  # prompts, menus and teasers are short; a long paragraph is article text


def _is_furniture_line(line: str) -> str | None:
    lowered = line.lower()
    if sum(name in lowered for name in LANGUAGE_NAMES) >= 3:
        return "language menu"
    if len(line.split()) > FURNITURE_MAX_WORDS:
        return None
    for pattern in FURNITURE_LINE_RES:
        if pattern.search(line):
            return "furniture: " + pattern.pattern[:40]
    return None


def _is_prose(line: str) -> bool:
    """Article paragraphs are sentences: long enough and ending like a sentence."""
    stripped = line.strip()
    n_words = len(stripped.split())
    if (BULLET_RE.match(stripped) or stripped.endswith((" -", " –", " —"))) and n_words < FURNITURE_MAX_WORDS:
        return False
    if SENTENCE_END_RE.search(stripped):
        return n_words >= 6
    if stripped.endswith(":"):  # a sentence introducing a quote or a list
        return n_words >= 12
    return n_words >= 25  # a long paragraph that lost its final full stop


def _extract_date(line: str) -> str | None:
    if m := ISO_DATE_RE.search(line):
        return f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
    if m := TEXT_DATE_RE.search(line):
        day = m.group(1) or m.group(3)
        month = [x[:3] for x in MONTHS].index(m.group(2).lower()[:3]) + 1
        return f"{m.group(4)}-{month:02d}" + (f"-{int(day):02d}" if day else "")
    return None


def _strip_site_suffix(title: str) -> str:
    """'Story headline | Site' or 'Story headline - Site Name' → 'Story headline'."""
    return re.split(r"\s+[|–—]\s+|\s+-\s*(?=[A-Z][\w ]{2,40}$)", title.strip())[0].strip()


def clean_text(raw: str) -> CleanedText:
    """Keep the article's prose; take title, date and wire-agency publisher from what it states."""
    lines = [line.replace("\u00a0", " ").rstrip() for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    result = CleanedText(text="")
    kept: list[str] = []
    in_link_list = False
    seen_prose = False
    header: list[str] = []

    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if LIST_HEADER_RE.match(stripped):
            in_link_list = True
            result.removed.append(("list header", stripped))
            continue
        if reason := _is_furniture_line(stripped):
            if not seen_prose and result.published is None and re.match(r"^\s*(date|published|updated)\b", stripped, re.I):
                result.published = _extract_date(stripped)
            result.removed.append((reason, stripped))
            continue
        if in_link_list:
            # Teasers under a list header can be whole sentences; only a full paragraph ends the list.
            if not (_is_prose(stripped) and len(stripped) >= 150):
                result.removed.append(("link list", stripped))
                continue
            in_link_list = False
        if not _is_prose(stripped):
            if not seen_prose:
                header.append(stripped)
            else:  # headline lists, captions, section labels, crossheads
                result.removed.append(("not prose", stripped))
            continue
        seen_prose = True
        kept.append(stripped)

    for line in header:
        date = _extract_date(line)
        if date and len(line.split()) <= 6:
            result.published = result.published or date
        elif result.title is None and len(line.split()) >= 3:
            result.title = _strip_site_suffix(line)
        else:
            result.removed.append(("header", line))
    if kept and (m := DATELINE_AGENCY_RE.match(kept[0])):
        result.publisher = AGENCIES[m.group(1)]
    if result.title is None and kept:
        first = re.split(r"(?<=[.!?])\s", kept[0], maxsplit=1)[0]
        result.title = first if len(first) <= 120 else first[:117].rsplit(" ", 1)[0] + "…"
    result.text = "\n".join(kept)
    return result
