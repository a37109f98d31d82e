"""Remove page furniture from scraped article text and read the title and date it states.

Scrapes mix the article with site chrome: breadcrumbs, language menus, "Related" and "Ranking"
lists, "See also" teasers, subscription and comment prompts, vote counters, photo credits and
lists of unrelated headlines, numbered gallery captions, the lead photo's caption glued in front
of the dateline, and photo captions standing between paragraphs with their credit. Anything left
here becomes retrievable and citable, so the rule is: a line survives only if it reads like
article prose. Lines are judged by shape (length, punctuation, bullets) and by a small vocabulary
of furniture phrases, never by topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from qa.ingest.boilerplate import (
    ATTRIBUTION_RE,
    DATELINE_RE,
    STARTS_SENTENCE_RE,
    TOKEN_RE,
    Boilerplate,
    is_attributed_quote,
    segments,
)

if TYPE_CHECKING:
    from dateparser.date import DateDataParser

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
        r"[|/]\s*(?:[\w&'’.-]+\s+){1,3}(?:images|photos?|pictures)\s*$",  # "... | Example Images": a credited caption
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

LANGUAGE_MENU_MIN_NAMES = 3  # prose may name a language or two; three run together are a picker

BULLET_RE = re.compile(r"^\s*([-–—•*·▪►]|\d{1,2}[.)])\s+")
SENTENCE_END = r"[.!?…][\"'”’»)\]]*"  # a full stop, question or exclamation mark, and any closing quotes
SENTENCE_END_RE = re.compile(SENTENCE_END + r"\s*$|[\"”’»]\s*$")
# Where a header line writes a date with its year: ISO "2024-09-08", or "September 8, 2024", "8 Sept.
# 2024", "March 3rd, 2021", "Sep 2024". dateparser turns the text found into the date.
MONTHS = "january february march april may june july august september october november december".split()
DATE_TEXT_RES = [
    re.compile(r"\b(?:19|20)\d\d-\d\d-\d\d\b"),
    re.compile(
        r"\b(?:\d{1,2}(?:st|nd|rd|th)?\s+)?(?:" + "|".join(m[:3] for m in MONTHS) + r")[a-z]*\.?\s+"
        r"(?:\d{1,2}(?:st|nd|rd|th)?,?\s+)?(?:19|20)\d\d\b",
        re.IGNORECASE,
    ),
]


@dataclass
class CleanedText:
    text: str
    title: str | None = None
    published: str | None = None
    publisher: str | None = None
    removed: list[tuple[str, str]] = field(default_factory=list)  # (reason, line), for debugging


# Prompts, menus and teasers are short: a line longer than this is not judged by the furniture
# vocabulary (a paragraph may mention a newsletter), and a bulleted line shorter than it is no paragraph.
FURNITURE_MAX_WORDS = 30
FURNITURE_REASON_CHARS = 40  # how much of the matching pattern `removed` records, for debugging
# A line that ends like a sentence is prose from this many words; shorter ones are labels and
# headlines that happen to end with a full stop or a quote mark ("Watch the video.").
SENTENCE_MIN_WORDS = 6
# A line ending with a colon is prose (a sentence introducing a quote or a list) from this many
# words; shorter ones are section labels ("What we know so far:").
COLON_LINE_MIN_WORDS = 12
# A line with no final punctuation is prose (a paragraph that lost its full stop) from this many
# words; shorter ones are headlines, menus and labels.
UNPUNCTUATED_LINE_MIN_WORDS = 25
# Under a "Related" header, teasers can be whole sentences; a paragraph this long ends the list.
LINK_LIST_END_MIN_CHARS = 150
# In the header (before the first paragraph): a line that states a date and is at most this long is
# the article's date line ("Updated 8 September 2024"); a longer one is a headline with a date in it.
DATE_LINE_MAX_WORDS = 6
PAGE_STAMP_RE = re.compile(r"^\s*(?:date|published|updated|posted|last modified)\s*:", re.IGNORECASE)
TITLE_MIN_WORDS = 3  # a header line needs this many words to be the title: "World", "Live" are section labels
# With no title in the header, the first sentence is the title. One longer than TITLE_MAX_CHARS
# keeps only its words that end before character TITLE_CUT_CHARS, and "…" marks the cut: a title
# is read in one glance, in a citation's line.
TITLE_MAX_CHARS = 120
TITLE_CUT_CHARS = 117


def _is_furniture_line(line: str) -> str | None:
    lowered = line.lower()
    if sum(name in lowered for name in LANGUAGE_NAMES) >= LANGUAGE_MENU_MIN_NAMES:
        return "language menu"
    if len(line.split()) > FURNITURE_MAX_WORDS:
        return None
    for pattern in FURNITURE_LINE_RES:
        if pattern.search(line):
            return "furniture: " + pattern.pattern[:FURNITURE_REASON_CHARS]
    return None


def _is_prose(line: str) -> bool:
    """Article paragraphs are sentences: long enough and ending like a sentence."""
    stripped = line.strip()
    n_words = len(stripped.split())
    if (BULLET_RE.match(stripped) or stripped.endswith((" -", " –", " —"))) and n_words < FURNITURE_MAX_WORDS:
        return False
    if SENTENCE_END_RE.search(stripped):
        return n_words >= SENTENCE_MIN_WORDS
    if stripped.endswith(":"):
        return n_words >= COLON_LINE_MIN_WORDS
    return n_words >= UNPUNCTUATED_LINE_MIN_WORDS


@lru_cache(maxsize=1)
def _date_parser() -> DateDataParser:
    # Imported on first use: a header with a date is rare, and `qa ask` never cleans text.
    from dateparser.date import DateDataParser

    return DateDataParser(languages=["en"])


def _extract_date(line: str) -> str | None:
    """The first date with a year that `line` writes: "YYYY-MM-DD", or "YYYY-MM" when it names no day."""
    for regex in DATE_TEXT_RES:
        for m in regex.finditer(line):
            found = _date_parser().get_date_data(m.group())
            if found.date_obj is not None:  # "2024-13-45", "Feb 30, 2024" are no dates
                return found.date_obj.strftime("%Y-%m" if found.period in ("month", "year") else "%Y-%m-%d")
    return None


def _strip_site_suffix(title: str) -> str:
    """'Story headline | Site' or 'Story headline - Site Name' → 'Story headline'."""
    return re.split(r"\s+[|–—]\s+|\s+-\s*(?=[A-Z][\w ]{2,40}$)", title.strip())[0].strip()


def _fallback_title(first_paragraph: str) -> str:
    """The first sentence of the article, cut short at a word boundary when it is too long for a title."""
    first = re.split(r"(?<=[.!?])\s", first_paragraph, maxsplit=1)[0]
    if len(first) <= TITLE_MAX_CHARS:
        return first
    return first[:TITLE_CUT_CHARS].rsplit(" ", 1)[0] + "…"


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
# Lower-case words a credit may hold between its names: "Jane Doe/AFP via Example Images".
CREDIT_JOINERS = ("via", "and", "for", "of")
CREDIT_TOKEN_RE = re.compile(r"^(?:[-–—;,/&|]+|[A-Z0-9©][\w.&'’/+-]*[;,.]?|" + "|".join(CREDIT_JOINERS) + r")$")
SEPARATORS_RE = re.compile(r"^[\s\-–—|•·:;,.]*$")
PROMPT_MAX_WORDS = 45  # a prompt is a sentence or two; a longer segment that says "subscribe" is prose
# A question to the reader glued next to a prompt ("Want more updates from our reporter?") is part
# of it up to this length; a longer question is the article's.
READER_QUESTION_MAX_WORDS = 15
SHARE_BUTTONS_MIN_RUN = 3  # "Facebook Twitter Email" in a row are buttons; one or two are named in prose
# A credit after its label ("Photo: Jane Doe/Example Images") is names, agencies and separators; no
# credit runs longer than this many tokens, so whatever follows is the article again.
CREDIT_MAX_TOKENS = 9
# After a caption or teaser label, the article's sentence resumes within this many words (at an
# opener such as "The" or a dateline); past them, what follows is not cut.
RESUME_MAX_WORDS = 30
# A caption or teaser of at most this many words, with no sentence resuming in it, is taken whole
# (a headline or caption standing alone in its segment).
LONE_LABEL_MAX_WORDS = 15
# A capitalised word between two lower-case ones resumes the article ("... victory Tillerson, for
# his part") only after this many words of teaser: the first words are the teaser's own.
NAME_RESUME_MIN_WORDS = 3

# --- Photo labels before the dateline, numbered gallery captions -------------------------------
# A wire story opens with its dateline ("WASHINGTON (AP) —", "LONDON —", "MOSCOW, February 7.
# /TASS/."): by that convention nothing of the story stands before it. Scrapes that put the lead
# photo first glue its caption and credit in front of the dateline, so at the start of the body a
# short label that ends like a caption or a credit, followed by a dateline, is furniture. Only a
# strict dateline counts: an all-caps place (or "Place (Agency)") followed by an agency, a date or
# a long dash and a capital, of at most three words and not preceded by another all-caps word, so
# that acronyms in prose ("cuts to FEMA -- including", "ISIS - a network") and all-caps crossheads
# ("SPEECH GETS POSITIVE MARKS FROM VIEWERS - The") never qualify.
_CAPS_WORD = r"[A-Z][A-Z'’.-]*[A-Z][A-Z'’.-]*"  # two capitals at least: "ST.", "U.S.", not an initial "L."
_CAPS_PLACE = _CAPS_WORD + r"(?:[ /-]" + _CAPS_WORD + r"){0,2}"  # LONDON, SALT LAKE CITY, SHANGHAI/WASHINGTON
_REGION = r"(?:,\s*[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,2})?"  # ", Turkey", ", Calif.", ", Germany"
_DATE = r",\s*(?:" + "|".join(m[:3].title() for m in MONTHS) + r")[a-z]*\.?\s+\d{1,2}\b\.?"  # ", March 9", ", Feb. 7."
_AGENCY = r"\([A-Z][A-Za-z]*\)"  # (AP), (Reuters), (CNN): one capitalised word in brackets
_DASH = r"(?:—|–|--?-?)"
STORY_DATELINE_RE = re.compile(
    r"(?:" + _CAPS_PLACE + _REGION + r"(?:" + _DATE + r")?\s*" + _AGENCY + r"(?:\s*" + _DASH + r")?"
    r"|" + _CAPS_PLACE + _REGION + _DATE + r"\s*(?:/[A-Z]+/\.?|" + _DASH + r")"
    r"|" + _CAPS_PLACE + _REGION + r"\s*(?:—|–|--)"
    r"|(?P<mixed>[A-Z][a-z'’.-]+(?: [A-Z][a-z'’.-]+){0,2}\s*" + _AGENCY + r"(?:\s*" + _DASH + r")?)"
    r")(?=\s*[\"“‘']?[A-Z0-9])"
)
# A wire story's dateline that credits its agency: "WASHINGTON (AP) —", "SEOUL (Reuters) -", "BERLIN,
# March 3 (dpa) --", "LONDON (Examplewire) The", "Washington (Reuters) -". The shape is a place (all
# capitals, or up to three capitalised words; then a region and a date), one word in brackets, and
# the story's first capital, or a dash (—, –, -, --) after a place in mixed case: "International
# Olympic Committee (IOC) President ..." is an organisation's initials in prose. Whichever agency
# the dateline names is taken as written, never looked up in a list.
WIRE_DATELINE_RE = re.compile(
    r"^(?:(?P<caps>" + _CAPS_PLACE + r")|[A-Z][a-z'’.-]+(?: [A-Z][a-z'’.-]+){0,2})" + _REGION + r"(?:" + _DATE + r")?"
    r"\s*\((?P<agency>[A-Za-z][A-Za-z-]{1,15})\)"
    r"(?(caps)(?:\s*" + _DASH + r")?(?=\s*[\"“‘']?[A-Z0-9])|\s*" + _DASH + r")"
)
LABEL_MAX_WORDS = 45  # a caption with its credit; a longer opening is the article's own text
# The words a dateline may take after the label ("SALT LAKE CITY, Utah, March 9 (AP) —" and the
# capital after it are 10): where `label_before_dateline` stops looking, for speed only, since a
# longer label is refused anyway.
DATELINE_MAX_WORDS = 12
LABEL_WINDOW_RE = re.compile(r"(?:\S+\s+){0," + str(LABEL_MAX_WORDS + DATELINE_MAX_WORDS) + r"}\S*")
CREDIT_WORDS = r"(?:Photos?|Images?|Pictures?|Photography)"
# What a label ends with where it meets the dateline: a credit in brackets ("(Reuters Photo)", "(AP
# Photo/Jane Doe)", "(Photo by Jane Doe)", "(AFP/Getty)", "(EPA)"), a bare credit ("Getty Images",
# "Photos by Jane Doe", "Jane Doe/AFP"), or the full stop of a caption sentence.
LABEL_END_RES = [
    re.compile(r"\([^()]{0,60}\b" + CREDIT_WORDS + r"\b[^()]{0,60}\)$"),
    re.compile(r"\((?:photos?|images?|pictures?|credit)\s*(?::|by\b)[^()]{1,80}\)$", re.IGNORECASE),
    re.compile(r"\([A-Z]{2,}(?:\s*/\s*[A-Z][\w ]{1,30})*\)$"),
    re.compile(r"\b[A-Z][\w&'’-]*(?: (?:[A-Z][\w&'’-]*|via)){0,3} " + CREDIT_WORDS + r"$"),
    re.compile(r"\b" + CREDIT_WORDS + r" (?:by|courtesy of|credit:?) [^.!?]{1,60}$", re.IGNORECASE),
    re.compile(SENTENCE_END + "$"),
]
# A numbered gallery caption: "Image 3 of 10:", "Photo 2 of 5 -", "Slide 4/9", or "(1 of 8)", at the
# start of a line or a segment, with the caption after it. Article prose does not open a sentence
# with an image counter.
GALLERY_COUNTER_RE = re.compile(
    r"(?:(?i:images?|photos?|pictures?|photographs?|slides?)\s+(\d{1,3})\s*(?:of|/)\s*(\d{1,3})|\(\s*(\d{1,3})\s+of\s+(\d{1,3})\s*\))"
    r"\s*[:.|\-–—]?(?=\s*[\"“‘']?[A-Z0-9]|\s*$)"
)
# The bare form "1/12 Supporters gather ..." reads like a date or like "9/11 families ...", so it
# counts only where the document shows the same gallery twice: another index out of the same total.
BARE_COUNTER_RE = re.compile(r"(\d{1,3}) ?/ ?(\d{1,3})(?=\s+[\"“‘']?[A-Z])")
COUNTER_HINT_RE = re.compile(r"\d\s*(?:of|/)\s*\d")  # cheap test before the full patterns
SENTENCE_CLOSERS = ".!?\"'”’)"  # a counter after one of these and a space starts a new sentence
BLOCK_BREAK_SPACES = 2  # flattened scrapes join page blocks with a run of spaces; one space is a word break
CAPTION_MAX_WORDS = 60  # a line opened by a counter is a caption up to this length
# A bare counter ("3/12") is a gallery's only where the document numbers this many items of the same
# gallery: "9/11" or "3/15" alone is a date.
GALLERY_MIN_ITEMS = 2

# --- Captions between paragraphs ---------------------------------------------------------------
# An image between two paragraphs leaves its caption in the text, ended by the photo's credit:
# "   - Jane Doe, head of Example Co, opens the new plant. Provided to Example Daily   ", "Residents
# wade through a flooded street [Photo/Agencies]", "The damaged bridge. Photo: Jane Doe". Removing
# the credit alone leaves the caption, which reads like a sentence and can be quoted as an answer.
# So a block that stands on its own (a line, a block between runs of spaces, or one opened by a
# " - " bullet after a sentence), short, opening like a sentence, and ending with a photo credit is
# a caption, credit and all. Credits are known by the generic words of the trade (photo, image,
# picture, provided, courtesy, credit) in the shapes below, never by who is credited; a dateline
# sentence and an attributed quote are never a caption.
CAPTION_BLOCK_BREAK_RE = re.compile(r"\s{2,}|(?<=[.!?…\"”’])\s*(?=[-–—•]\s+[\"“‘']?[A-Z])")
CAPTION_BULLET_RE = re.compile(r"[-–—•*·▪►]\s+")
CAPTION_BLOCK_MAX_WORDS = 50  # a caption of two or three sentences; a longer block is a paragraph
CAPTION_MIN_WORDS = 2  # a single word before a credit is a label ("Sandbags"), not a caption
# A credit standing as a block of its own takes an unpunctuated or bulleted block before it as its
# caption up to this length; a longer block is a paragraph that lost its full stop.
CAPTION_BEFORE_CREDIT_MAX_WORDS = 30
_PIC = r"(?i:photo(?:graph)?s?|images?|pictures?)"  # the generic credit nouns, in any case
# Credits that run in brackets: "[Photo/Agencies]", "[Photo by Jane Doe/Example Daily]", "[Photo
# provided to Example Daily]", "[Example Photo]", "(Photo: Example)", "(Photos by Jane Doe)", "(Photo
# courtesy of Example)", "(Example Photo)", "(Example Photo/Jane Doe)", "(Credit: Example)".
BRACKET_CREDIT_RE = re.compile(
    r"\[\s*(?=[A-Z])(?:" + _PIC + r"\s*(?:[/:]|(?i:by|provided|courtesy|credits?)\b)|"
    r"(?i:provided\s+(?:to|by)|courtesy(?:\s+of)?|credits?\s*:)\s)[^\[\]\n]{1,80}\]"
    r"|\[(?:[A-Z][\w&'’.-]*\s+){1,3}" + _PIC + r"\s*\]"
    r"|\(\s*(?=[A-Z])(?:" + _PIC + r"\s*(?:[/:]|(?i:by|provided|courtesy|credits?)\b)|(?i:credits?)\s*:)[^()\n]{1,80}\)"
    r"|\((?:[A-Z][\w&'’.-]*\s+){1,3}" + _PIC + r"(?:\s*/\s*[A-Z][^()\n]{0,60})?\)"
)
# Credits that run to the end of their block, or to where the next sentence starts: "Provided to
# Example Daily", "Photos provided to ...", "Photo by Jane Doe", "Photos courtesy of ...", "Photo:
# Example", "Photo credit: ...", "Credit: ...", each followed by a capitalised name. Like the next
# form, they open their block or follow a full stop or a dash: "The Big Picture: The People",
# "In Pictures: Storm hits coast" are titles, not credits.
_CREDIT_START = r"(?=[A-Z])(?:^|(?<=[.!?…\"”’)\]] )|(?<=[-–—|\s] ))"  # a capital first: fails fast
BARE_CREDIT_RE = re.compile(
    _CREDIT_START + r"(?:(?:" + _PIC + r"\s+)?(?i:provided\s+(?:to|by))|" + _PIC + r"\s+(?i:by|courtesy(?:\s+of)?)|"
    r"" + _PIC + r"(?:\s+(?i:credits?))?\s*:|(?i:credits?)\s*:)\s*(?=[\"“]?[A-Z])"
)
# A name's photo at the end of its block: "Example Photo", "Example Photo/Jane Doe", "Jane Doe /
# Example Images" ("the World Press Photo" ends prose too, but not after a full stop). Searched for
# only in the last NAME_PHOTO_WINDOW_CHARS of the block: a credit is a few names long.
NAME_PHOTO_WINDOW_CHARS = 200
NAME_PHOTO_RE = re.compile(
    _CREDIT_START
    + r"(?:[A-Z][\w&'’.-]*(?:\s*/\s*|\s+)){1,4}"
    + _PIC
    + r"(?:\s*/\s*[A-Z][\w'’.-]*(?: [A-Z][\w'’.-]*){0,2})?(?=\s*$)"
)
# A caption may put a phrase in quotes (the so-called "sponge city" plan); one that quotes
# someone at length, with the verb that attributes it, is an article's quote paragraph.
QUOTED_WORDS_RE = re.compile(r"[\"“]\s*\S+(?:\s+[^\s\"“”]+){3,}\s*[\"”]")
CREDIT_HINTS = ("photo", "image", "picture", "provided", "courtesy", "credit")  # a cheap test first
CREDIT_CONNECTORS = frozenset(["for", "of", "and", "via", "by", "to", "de", "van", "von", "da", "del", "la", "le"])
CREDIT_TAIL_MAX_WORDS = 20  # "Photos by Jane Doe / Example Daily; John Roe, Ann Poe / For Example Daily"
CREDIT_TAIL_MAX_LOWERCASE = 1  # a credit's words are names; one lower-case word ("staff") may slip in
ABBREVIATION_MAX_LETTERS = 3  # "Co.", "Inc." end an abbreviation inside a credit; a longer word and "." end a sentence


def _tokens(line: str, start: int, end: int) -> list[re.Match[str]]:
    return list(TOKEN_RE.finditer(line, start, end))


def _segment_end(segs: list[tuple[int, int]], pos: int, default: int) -> int:
    """End of the segment (of `segments`) that holds `pos`; `default` where none does."""
    return next((b for a, b in segs if a <= pos < b), default)


def _credit_end(line: str, start: int, end: int) -> int:
    """End of the credit that starts at `start`: names, agencies and separators, up to the prose."""
    tokens = _tokens(line, start, end)[:CREDIT_MAX_TOKENS]
    stop = start
    for k, tok in enumerate(tokens):
        text = tok.group()
        if not CREDIT_TOKEN_RE.match(text):
            break
        # After its first token, a dateline or another label starts something new; the first token
        # may itself be a label's ("Credit: Copyright 2020 Jane Doe").
        if k > 0 and (
            DATELINE_RE.match(line, tok.start())
            or CAPTION_LABEL_RE.match(line, tok.start())
            or CREDIT_LABEL_RE.match(line, tok.start())
        ):
            break
        nxt = tokens[k + 1].group() if k + 1 < len(tokens) else ""
        if text[0].isupper() and nxt[:1].islower() and nxt not in CREDIT_JOINERS:
            break  # "The president": the article's sentence starts here
        stop = tok.end()
    return stop


def _prose_start(line: str, start: int, end: int) -> int | None:
    """Where the article's sentence resumes after a caption or teaser starting at `start`."""
    tokens = _tokens(line, start, end)
    for k in range(1, min(len(tokens), RESUME_MAX_WORDS)):
        text, prev = tokens[k].group(), tokens[k - 1].group()
        if not STARTS_SENTENCE_RE.match(text):
            continue
        if text.strip("\"“‘'") in OPENERS or prev[-1] in "'’\"”" or DATELINE_RE.match(line, tokens[k].start()):
            return tokens[k].start()
    if len(tokens) <= LONE_LABEL_MAX_WORDS:
        return end
    for k in range(NAME_RESUME_MIN_WORDS, min(len(tokens) - 1, RESUME_MAX_WORDS)):
        text, prev, nxt = tokens[k].group(), tokens[k - 1].group(), tokens[k + 1].group()
        if STARTS_SENTENCE_RE.match(text) and prev[-1].islower() and nxt[:1].islower():
            return tokens[k].start()
    return None


def _is_caps_word(token: str) -> bool:
    return bool(re.fullmatch(r"[A-Z][A-Z'’./-]*[A-Z]|[A-Z]", token.rstrip("\"'”’")))


def label_before_dateline(line: str) -> int | None:
    """End of a photo label or credit glued in front of the dateline that opens the story, if any.

    Meant for the first line of the body: a caption or credit of at most `LABEL_MAX_WORDS` words,
    ending like one (`LABEL_END_RES`), then a strict dateline. A line that opens with its dateline
    has nothing to remove; neither has a glued headline, which ends like neither.
    """
    window = LABEL_WINDOW_RE.match(line)  # the label's words and a dateline's: no need to scan further
    for m in STORY_DATELINE_RE.finditer(line, 0, window.end() if window else len(line)):
        prefix = line[: m.start()].rstrip()
        if not prefix:
            return None
        words = prefix.split()
        if len(words) > LABEL_MAX_WORDS:
            return None
        if not line[m.start() - 1].isspace() or _is_caps_word(words[-1]):
            continue  # inside a word, or inside a run of capitals ("MARKS FROM VIEWERS")
        # After a mixed-case "Place (X)" only a credit will do: "Microsoft (MSFT) Shares" is prose.
        ends = LABEL_END_RES if m.group("mixed") is None else LABEL_END_RES[:-1]
        if any(r.search(prefix) for r in ends):
            return m.start()
    return None


def _starts_block(text: str, pos: int) -> bool:
    """Does `pos` start a line, a sentence, or a block after a run of spaces (where counters stand)?"""
    j = pos
    while j > 0 and text[j - 1] in " \t":
        j -= 1
    return j == 0 or text[j - 1] == "\n" or pos - j >= BLOCK_BREAK_SPACES or (pos - j == 1 and text[j - 1] in SENTENCE_CLOSERS)


def gallery_totals(raw: str) -> frozenset[int]:
    """Totals of bare counters ("3/12") that number at least `GALLERY_MIN_ITEMS` items of one gallery in `raw`."""
    indices: dict[int, set[int]] = {}
    for m in BARE_COUNTER_RE.finditer(raw) if COUNTER_HINT_RE.search(raw) else ():
        n, total = int(m.group(1)), int(m.group(2))
        if 1 <= n <= total and _starts_block(raw, m.start()):
            indices.setdefault(total, set()).add(n)
    return frozenset(total for total, ns in indices.items() if len(ns) >= GALLERY_MIN_ITEMS)


def _is_counter(m: re.Match[str], galleries: frozenset[int]) -> bool:
    """Is this match of `GALLERY_COUNTER_RE` or `BARE_COUNTER_RE` an item's number in its gallery?"""
    groups = [g for g in m.groups() if g is not None]
    n, total = int(groups[0]), int(groups[1])
    return 1 <= n <= total and (m.re is GALLERY_COUNTER_RE or total in galleries)


def is_gallery_caption(line: str, galleries: frozenset[int] = frozenset()) -> bool:
    """A line opened by a gallery counter is that image's caption (up to `CAPTION_MAX_WORDS` words)."""
    stripped = line.strip()
    m = GALLERY_COUNTER_RE.match(stripped) or BARE_COUNTER_RE.match(stripped)
    return m is not None and _is_counter(m, galleries) and len(stripped.split()) <= CAPTION_MAX_WORDS


def _gallery_captions(line: str, galleries: frozenset[int]) -> list[tuple[int, int, str]]:
    """Counters that start a segment, with the caption after them, up to where prose resumes."""
    if not COUNTER_HINT_RE.search(line):
        return []
    counters = [*GALLERY_COUNTER_RE.finditer(line), *(BARE_COUNTER_RE.finditer(line) if galleries else [])]
    counters = [m for m in counters if _is_counter(m, galleries) and _starts_block(line, m.start())]
    found: list[tuple[int, int, str]] = []
    segs = segments(line)
    for m in counters:
        seg_end = _segment_end(segs, m.start(), len(line))
        resume = _prose_start(line, m.end(), seg_end)
        if resume is None and len(line[m.end() : seg_end].split()) <= CAPTION_MAX_WORDS:
            resume = seg_end
        found.append((m.start(), resume if resume is not None else m.end(), "gallery caption"))
    return found


def _mentions_credit(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in CREDIT_HINTS)


def _caption_blocks(line: str) -> list[tuple[int, int]]:
    """(start, end) of the blocks of `line`: between runs of spaces, or opened by a " - " bullet."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in CAPTION_BLOCK_BREAK_RE.finditer(line):
        if m.start() > start:
            spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(line)))
    return [(a, b) for a, b in spans if line[a:b].strip()]


def _is_credit_tail(words: list[str]) -> bool:
    """Do these words name who is credited ("Jane Doe / For Example Daily"), rather than run on as prose?"""
    lowercase = [w for w in words if w[:1].islower() and w.lower() not in CREDIT_CONNECTORS]
    sentence_ends = [
        w for w in words[:-1] if w.endswith(("!", "?")) or (w.endswith(".") and len(w.strip(".")) > ABBREVIATION_MAX_LETTERS)
    ]
    return len(words) <= CREDIT_TAIL_MAX_WORDS and len(lowercase) <= CREDIT_TAIL_MAX_LOWERCASE and not sentence_ends


def _block_credit(line: str, start: int, end: int) -> tuple[int, int] | None:
    """(start, end) of the first photo credit in the block `line[start:end]` that ends the caption
    before it: at the block's end, or where a new sentence starts."""
    found: list[tuple[int, int]] = []
    if not _mentions_credit(line[start:end]):
        return None
    for m in BRACKET_CREDIT_RE.finditer(line, start, end):
        found.append((m.start(), m.end()))
    for m in BARE_CREDIT_RE.finditer(line, start, end):
        words = line[m.end() : end].split()
        if words and _is_credit_tail(words):
            found.append((m.start(), m.end() + len(line[m.end() : end].rstrip())))  # to the block's end
        elif (stop := _credit_end(line, m.end(), end)) > m.end():
            found.append((m.start(), stop))
    if name := NAME_PHOTO_RE.search(line, max(start, end - NAME_PHOTO_WINDOW_CHARS), end):
        found.append((name.start(), name.end()))
    for a, b in sorted(found):
        rest = line[b:end].strip()
        if not rest or STARTS_SENTENCE_RE.match(rest):
            return a, b
    return None


def _is_caption(text: str, max_words: int = CAPTION_BLOCK_MAX_WORDS) -> bool:
    """Could this text, standing before a photo credit, be the photo's caption?

    Short, opening like a sentence, neither a dateline sentence nor an attributed quote (one that
    opens with a quote mark, or quotes four words or more).
    """
    caption = CAPTION_BULLET_RE.sub("", text.strip(), count=1).rstrip(" -–—|:;,")
    quote = ATTRIBUTION_RE.search(caption) and (caption[0] in '"“' or QUOTED_WORDS_RE.search(caption))
    return (
        CAPTION_MIN_WORDS <= len(caption.split()) <= max_words
        and STARTS_SENTENCE_RE.match(caption) is not None
        and not STORY_DATELINE_RE.match(caption)
        and not quote
    )


def captions_between_paragraphs(line: str, opening: bool = False) -> list[tuple[int, int, str]]:
    """(start, end, "caption") of each photo caption standing as its own block, with its credit.

    A block (`_caption_blocks`) of at most `CAPTION_BLOCK_MAX_WORDS` words that ends with a photo
    credit (`_block_credit`) is a caption. A credit that stands as a block of its own takes the
    block before it only where that block cannot be a paragraph: opened by a bullet, or a short
    fragment that does not end like a sentence. `opening`: the line opens the article, whose first
    block (a video's description, a short story's only paragraph) is taken only if it is bulleted.
    """
    if not _mentions_credit(line):
        return []
    blocks = _caption_blocks(line)
    found: list[tuple[int, int, str]] = []
    for n, (a, b) in enumerate(blocks):
        credit = _block_credit(line, a, b)
        if credit is None:
            continue
        before = line[a : credit[0]]
        if CAPTION_BULLET_RE.sub("", before.strip(), count=1).strip(" -–—|"):
            if _is_caption(before) and not (opening and n == 0 and not CAPTION_BULLET_RE.match(before.strip())):
                found.append((a, credit[1], "caption"))
            continue
        if n == 0:
            continue
        prev = line[blocks[n - 1][0] : blocks[n - 1][1]].strip()
        if (CAPTION_BULLET_RE.match(prev) or not SENTENCE_END_RE.search(prev)) and _is_caption(
            prev, CAPTION_BEFORE_CREDIT_MAX_WORDS
        ):
            found.append((blocks[n - 1][0], credit[1], "caption"))
    return found


def inline_furniture(line: str, galleries: frozenset[int] = frozenset()) -> list[tuple[int, int, str]]:
    """(start, end, reason) of furniture inside one line, found by shape alone.

    `galleries`: totals of bare gallery counters ("3/12") the document confirms (`gallery_totals`).
    """
    found: list[tuple[int, int, str]] = _gallery_captions(line, galleries)
    segs = segments(line)
    prompt_segs: set[int] = set()
    for n, (a, b) in enumerate(segs):
        seg = line[a:b]
        words = len(seg.split())
        if words <= PROMPT_MAX_WORDS and not is_attributed_quote(seg):
            calls = bool(PROMPT_START_RE.match(seg)) and not SHARE_LABEL_RE.match(seg)
            if calls or (SECOND_PERSON_RE.search(seg) and SUBSCRIPTION_RE.search(seg)):
                prompt_segs.add(n)
        if m := SHARE_LABEL_RE.match(seg):
            found.append((a, a + m.end(), "share label"))
    # A question to the reader right before or after a prompt belongs to it ("Want more updates?").
    for n, (a, b) in enumerate(segs):
        seg = line[a:b]
        question = n not in prompt_segs and seg.rstrip().endswith("?") and len(seg.split()) <= READER_QUESTION_MAX_WORDS
        if (
            question
            and not is_attributed_quote(seg)
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
            resume = _prose_start(line, m.end(), _segment_end(segs, m.start(), len(line)))
            found.append((m.start(), resume if resume is not None else m.end(), reason))
    for regex in CREDIT_SHAPE_RES:
        for m in regex.finditer(line):
            found.append((m.start(), m.end(), "credit"))
    run: list[re.Match[str]] = []
    for tok in [*TOKEN_RE.finditer(line), None]:
        if tok is not None and tok.group().lower().strip(".,:|") in SOCIAL_NAMES:
            run.append(tok)
            continue
        if len(run) >= SHARE_BUTTONS_MIN_RUN:
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
    galleries = gallery_totals(raw)

    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if is_gallery_caption(stripped, galleries):
            result.removed.append(("gallery caption", stripped))
            continue
        spans = inline_furniture(stripped, galleries) + captions_between_paragraphs(stripped, opening=not seen_prose)
        if not seen_prose and (label_end := label_before_dateline(stripped)) is not None:
            spans.append((0, label_end, "label before dateline"))
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
            # a date inside page furniture ("Date:2025-04-11 02:09:25" in a site's header) is the
            # page's, which on a republished story is years after the story's: never taken for it
            result.removed.append((reason, stripped))
            continue
        if in_link_list:
            # Teasers under a list header can be whole sentences; only a full paragraph ends the list.
            if not (_is_prose(stripped) and len(stripped) >= LINK_LIST_END_MIN_CHARS):
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
        if date and PAGE_STAMP_RE.match(line):
            # "Date:2025-04-11 02:09:25", "Updated: ...": the site template's stamp of the page,
            # which on a republished story is years after the story; never taken for its date
            result.removed.append(("page date stamp", line))
        elif date and len(line.split()) <= DATE_LINE_MAX_WORDS:
            result.published = result.published or date
        elif result.title is None and len(line.split()) >= TITLE_MIN_WORDS:
            result.title = _strip_site_suffix(line)
        else:
            result.removed.append(("header", line))
    if kept and (m := WIRE_DATELINE_RE.match(kept[0])):
        result.publisher = m.group("agency")
    if result.title is None and kept:
        result.title = _fallback_title(kept[0])
    result.text = "\n".join(kept)
    return result
