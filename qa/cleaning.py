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

from qa.boilerplate import (
    ATTRIBUTION_RE,
    DATELINE_RE,
    QUOTE_RE,
    TOKEN_RE,
    Boilerplate,
    segments,
)

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
    "english",
    "français",
    "deutsch",
    "español",
    "português",
    "italiano",
    "русский",
    "日本語",
    "한국어",
    "한어",
    "中文",
    "indonesian",
    "العربية",
    "ελληνικά",
    "suomalainen",
    "latina",
    "sanskrit",
    "türkçe",
    "polski",
    "nederlands",
    "svenska",
    "हिन्दी",
)

BULLET_RE = re.compile(r"^\s*([-–—•*·▪►]|\d{1,2}[.)])\s+")
SENTENCE_END_RE = re.compile(r"[.!?…][\"'”’»)\]]*\s*$|[\"”’»]\s*$")
ISO_DATE_RE = re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b")
MONTHS = "january february march april may june july august september october november december".split()
TEXT_DATE_RE = re.compile(
    r"\b(?:(\d{1,2})\s+)?(" + "|".join(m[:3] for m in MONTHS) + r")[a-z]*\.?\s+(?:(\d{1,2}),?\s+)?((?:19|20)\d\d)\b",
    re.IGNORECASE,
)
DATELINE_AGENCY_RE = re.compile(r"^[A-Z][A-Za-z .,'-]{1,40}\((AP|Reuters|AFP|UPI|Bloomberg|dpa)\)")
AGENCIES = {
    "AP": "Associated Press",
    "Reuters": "Reuters",
    "AFP": "Agence France-Presse",
    "UPI": "United Press International",
    "Bloomberg": "Bloomberg",
    "dpa": "dpa",
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


# --- Furniture inside lines -------------------------------------------------------------------
# Scrapes that flatten a page onto one line glue the chrome into the sentences. These rules find it
# by shape and by generic web-furniture vocabulary (share, subscribe, newsletter, photo, caption,
# copyright, credit), never by naming a site, agency or person; `Boilerplate` adds what one site
# repeats across its documents.

# A segment that is a prompt to the reader: it starts with the call to action.
PROMPT_START_RE = re.compile(
    r"^\W*(sign[ -]?up\b|subscribe\b|follow (us|me)\b|follow @|(click|tap) (here|to)\b|"
    r"share (this|on|via)\b|join (us|the conversation|our)\b|download (our|the) app|read more\b(?!\s*:)|learn more\b|"
    r"get (the latest|latest|our|news from)\b|never miss\b|don'?t miss\b|(like|find) us on\b|sign in\b|log ?in\b|"
    r"register (now|here|for)\b|enter your e-?mail|e-?mail us\b|watch more\b|see more\b)",
    re.IGNORECASE,
)
# ... or one that addresses the reader about a subscription.
SECOND_PERSON_RE = re.compile(r"\b(you|your)\b", re.IGNORECASE)
READER_QUESTION_RE = re.compile(r"\W*(want|like|looking|interested|enjoy)\b", re.IGNORECASE)
SUBSCRIPTION_RE = re.compile(
    r"\b(newsletters?|inbox|sign[ -]?up|subscri(be|bed|ption)|e-?mail address|log ?in|sign in)\b", re.IGNORECASE
)
# Newsletter and login form messages, glued wherever the form stood.
FORM_MESSAGE_RE = re.compile(
    r"(?:(?:oops|sorry|error)\W{0,3}\s*)?(?:"
    r"(?:please )?(?:enter|provide|use) a valid e-?mail(?: address)?|invalid e-?mail(?: address)?|"
    r"(?:something went wrong|there was (?:a problem|an error)(?: with your (?:sign[ -]?up|subscription|request))?)"
    r"[,.!;]?\s*(?:please )?try again(?: later)?|(?:please )?try again later|this field is required|"
    r"(?:thank you|thanks) for (?:signing up|subscribing|registering)|"
    r"you(?:'re| are| have been) (?:now )?(?:subscribed|signed up)(?: to [\w ]{1,40}?newsletter)?"
    r")[.!]?",
    re.IGNORECASE,
)
# Labels followed by a credit: "Image copyright Getty Images", "Photo: AP", "© Jane Doe", "Photo credits -".
CREDIT_LABEL_RE = re.compile(
    r"(?<![\w-])(?:(?:image|photo|picture|video)s? (?:copyright|credits?)|(?:file )?(?:photo|image|picture)s?"
    r"(?: credits?)?\s*[:|]|credits?\s*:|©|\(c\)|copyright\s*(?:©|\d{4}))",
    re.IGNORECASE,
)
# Labels followed by a caption or a teaser headline, which run until the article's sentence resumes.
CAPTION_LABEL_RE = re.compile(r"(?<![\w-])(?:(?:image|photo|picture|video) caption|caption\s*:)", re.IGNORECASE)
TEASER_LABEL_RE = re.compile(
    r"(?:^|(?<=[.!?\"'”’]\s)|(?<=\s\s))\W{0,3}(?:related(?: stories| articles| coverage| content| news)?|"
    r"read more|read also|also read|see also|more on this(?: story)?|watch|listen|rewind|recommended)\s*[:|]-?",
    re.IGNORECASE,
)
SHARE_LABEL_RE = re.compile(
    r"^\W*share(?: this(?: article| story| page| slide| post| video| gallery)?)?(?: with| on| via)?\s*:?(?=\s+[\"“A-Z]|\s*$)",
    re.IGNORECASE,
)
PLAYER_NOTICE_RE = re.compile(
    r"(?:media )?playback (?:is )?(?:not supported|unsupported)(?: on (?:this|your) device| in (?:this|your) browser)?|"
    r"your browser does not support [\w ]{1,30}|(?:please )?enable javascript[\w ]{0,40}",
    re.IGNORECASE,
)
# Credits by shape: "Jane Doe/AFP", "Drew Angerer / Getty Images", "REUTERS/Kevin Lamarque", "(AFP/Reuters)",
# an editor's initials before the agencies: "jbh/rt (AFP/Reuters)".
_NAME = r"[A-Z][a-z'’-]+(?: [A-Z]\.)?(?: [A-Z][a-z'’-]+){1,2}"
CREDIT_NOUNS = r"(?:Images|Photos?|Pictures|Photography|Press|Agency)"
CREDIT_SHAPE_RES = [
    re.compile(r"\b" + _NAME + r"/(?:[A-Z]{2,}\b|[A-Z][a-z]+ " + CREDIT_NOUNS + r"\b)"),
    re.compile(r"\b" + _NAME + r" / (?:[A-Z][a-z]+ ){0,2}[A-Z][a-z]+\b|\b" + _NAME + r" / [A-Z]{2,}\b"),
    re.compile(r"\b(?:[A-Z]{3,}|[A-Z]{2,} Photo|Photo)/[A-Z][a-z'’-]+(?: [A-Z]\.)? [A-Z][a-z'’-]+\b(?! [A-Z])"),
    re.compile(r"(?:\b[a-z]{1,4}(?:/[a-z]{1,4})*\s*)?\((?:[A-Z]{2,}|[A-Z][a-z]+)(?:\s*/\s*(?:[A-Z]{2,}|[A-Z][a-z]+))+\)"),
    re.compile(r"\((?:photos?|images?|pictures?|video|file photo|credit)\s*:[^()]{1,80}\)", re.IGNORECASE),
]
SOCIAL_NAMES = frozenset(
    re.findall(
        r"\S+",
        "send share email e-mail print facebook twitter google+ whatsapp tumblr linkedin stumble stumbleupon digg "
        "reddit newsvine permalink pinterest messenger telegram instagram snapchat vk xing pocket flipboard",
    )
)
# Capitalised words that start a new sentence: where a caption or teaser glued before it ends.
OPENERS = frozenset(
    re.findall(
        r"\S+",
        "The A An He She It They We I You His Her Its Their Our This That These Those There But And In On At After Before "
        "When While As Since Despite Meanwhile However Although Some Many Most According Last Earlier Later Mr Mrs Ms "
        "Dr If For Under Over With Without Amid Even Given Still Yet Now Then Both Each One Two Nearly More Only Several All "
        "Another Other Such",
    )
)
STARTS_CAPITAL_RE = re.compile(r"[\"“‘']?[A-Z0-9]")
CREDIT_TOKEN_RE = re.compile(r"^(?:[-–—;,/&|]+|[A-Z0-9©][\w.&'’/+-]*[;,.]?|via|and|for|of)$")
SEPARATORS_RE = re.compile(r"^[\s\-–—|•·:;,.]*$")
PROMPT_MAX_WORDS = 45


def _tokens(line: str, start: int, end: int) -> list[re.Match[str]]:
    return list(TOKEN_RE.finditer(line, start, end))


def _credit_end(line: str, start: int, end: int) -> int:
    """End of the credit that starts at `start`: names, agencies and separators, up to the prose."""
    tokens = _tokens(line, start, end)[:9]
    stop = start
    for k, tok in enumerate(tokens):
        text = tok.group()
        if not CREDIT_TOKEN_RE.match(text):
            break
        if k > 0 and DATELINE_RE.match(line, tok.start()):
            break
        if k > 0 and CAPTION_LABEL_RE.match(line, tok.start()) or CREDIT_LABEL_RE.match(line, tok.start()):
            break
        nxt = tokens[k + 1].group() if k + 1 < len(tokens) else ""
        if text[0].isupper() and nxt[:1].islower() and nxt not in ("via", "and", "for", "of"):
            break  # "The president": the article's sentence starts here
        stop = tok.end()
    return stop


def _prose_start(line: str, start: int, end: int, max_words: int = 30) -> int | None:
    """Where the article's sentence resumes after a caption or teaser starting at `start`."""
    tokens = _tokens(line, start, end)
    for k in range(1, min(len(tokens), max_words)):
        text, prev = tokens[k].group(), tokens[k - 1].group()
        if not STARTS_CAPITAL_RE.match(text):
            continue
        if text.strip("\"“‘'") in OPENERS or prev[-1] in "'’\"”" or DATELINE_RE.match(line, tokens[k].start()):
            return tokens[k].start()
    if len(tokens) <= 15:  # a headline or caption alone
        return end
    for k in range(3, min(len(tokens) - 1, max_words)):  # "... victory Tillerson, for his part"
        text, prev, nxt = tokens[k].group(), tokens[k - 1].group(), tokens[k + 1].group()
        if STARTS_CAPITAL_RE.match(text) and prev[-1].islower() and nxt[:1].islower():
            return tokens[k].start()
    return None


def _is_quote(segment: str) -> bool:
    return bool(QUOTE_RE.search(segment) and ATTRIBUTION_RE.search(segment))


def inline_furniture(line: str) -> list[tuple[int, int, str]]:
    """(start, end, reason) of furniture inside one line, found by shape alone."""
    found: list[tuple[int, int, str]] = []
    segs = segments(line)
    prompt_segs: set[int] = set()
    for n, (a, b) in enumerate(segs):
        seg = line[a:b]
        words = len(seg.split())
        if words <= PROMPT_MAX_WORDS and not _is_quote(seg):
            calls = bool(PROMPT_START_RE.match(seg)) and not SHARE_LABEL_RE.match(seg)
            if calls or (SECOND_PERSON_RE.search(seg) and SUBSCRIPTION_RE.search(seg)):
                prompt_segs.add(n)
        if m := SHARE_LABEL_RE.match(seg):
            found.append((a, a + m.end(), "share label"))
    # A question to the reader right before or after a prompt belongs to it ("Want more updates?").
    for n, (a, b) in enumerate(segs):
        seg = line[a:b]
        question = n not in prompt_segs and seg.rstrip().endswith("?") and len(seg.split()) <= 15
        if (
            question
            and not _is_quote(seg)
            and (n + 1 in prompt_segs or n - 1 in prompt_segs)
            and (SECOND_PERSON_RE.search(seg) or READER_QUESTION_RE.match(seg))
        ):
            prompt_segs.add(n)
    for n in sorted(prompt_segs):
        a, b = segs[n]
        resume = _prose_start(line, a, b) if PROMPT_START_RE.match(line[a:b]) else None
        found.append((a, resume if resume is not None and resume < b else b, "reader prompt"))
    for m in FORM_MESSAGE_RE.finditer(line):
        found.append((m.start(), m.end(), "form message"))
    for m in PLAYER_NOTICE_RE.finditer(line):
        found.append((m.start(), m.end(), "player notice"))
    for m in CREDIT_LABEL_RE.finditer(line):
        end = _credit_end(line, m.end(), len(line))
        if end > m.end() or m.group().rstrip().endswith((":", "|")):
            found.append((m.start(), max(end, m.end()), "credit"))
    for regex, reason in ((CAPTION_LABEL_RE, "caption"), (TEASER_LABEL_RE, "teaser")):
        for m in regex.finditer(line):
            seg_end = next((b for a, b in segs if a <= m.start() < b), len(line))
            resume = _prose_start(line, m.end(), seg_end)
            found.append((m.start(), resume if resume is not None else m.end(), reason))
    for regex in CREDIT_SHAPE_RES:
        for m in regex.finditer(line):
            found.append((m.start(), m.end(), "credit"))
    run: list[re.Match[str]] = []
    for tok in [*TOKEN_RE.finditer(line), None]:
        if tok is not None and tok.group().lower().strip(".,:|") in SOCIAL_NAMES:
            run.append(tok)
            continue
        if len(run) >= 3:
            end = run[-1].end()
            if tok is not None and tok.group().startswith("http"):
                end = tok.end()
            found.append((run[0].start(), end, "share buttons"))
        run = []
    return found


def _cut(line: str, spans: list[tuple[int, int, str]], removed: list[tuple[str, str]]) -> str:
    """`line` without the spans (merged where they overlap); each removed piece is recorded."""
    if not spans:
        return line
    merged: list[list] = []  # [start, end, reason]
    for a, b, reason in sorted(spans):
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
            continue
        merged.append([a, b, reason])
    pieces: list[str] = []
    cursor = 0
    for a, b, reason in merged:
        pieces.append(line[cursor:a])
        removed.append((reason, line[a:b].strip()))
        cursor = b
    pieces.append(line[cursor:])
    kept = [p.strip() for p in pieces if not SEPARATORS_RE.match(p)]
    return " ".join(p for p in kept if p)


def clean_text(raw: str, boilerplate: Boilerplate | None = None, group: str | None = None) -> CleanedText:
    """Keep the article's prose; take title, date and wire-agency publisher from what it states.

    Furniture glued inside lines goes too: by shape always, and, given a `Boilerplate` learnt from
    the corpus, whatever recurs across the documents of `group` (the outlet or folder).
    """
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
        spans = inline_furniture(stripped)
        if boilerplate is not None:
            spans += [(a, b, "recurring") for a, b in boilerplate.spans(group, stripped)]
        stripped = _cut(stripped, spans, result.removed)
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
