"""Page furniture of every kind is removed; article prose, title and date survive."""

from __future__ import annotations

import pytest

from qa.ingest import cleaning
from qa.ingest.cleaning import (
    captions_between_paragraphs,
    clean_text,
    gallery_totals,
    inline_furniture,
    is_gallery_caption,
    label_before_dateline,
)

ARTICLE = (
    "WASHINGTON (AP) — Officials said on Tuesday that the new budget would be sent to Congress next week "
    "for a vote, a spokesperson confirmed to reporters."
)
SECOND = "The proposal includes $12 billion for road repairs and was welcomed by several state governors."


def cleaned(*lines: str) -> str:
    return clean_text("\n".join(lines)).text


@pytest.mark.parametrize(
    "furniture",
    [
        "Home > World > Politics",
        "Current:Home > ContactSome Site",
        "News | Politics | Sport | Weather",
        "한어Русский языкEnglishFrançaisIndonesianDeutsch",
        "See also  Mozambique: At least 94 people were killed after a ferry capsized",
        "Subscribe to Premium to bookmark this article",
        "Want to bookmark your favourite articles and stories to read or reference later?",
        "Join our commenting forum",
        "Join thought-provoking conversations, follow other readers and see their replies",
        "Leave a Reply",
        "Your email address will not be published. Required fields are marked *",
        "Sign up for our daily newsletter.",
        "veryGood! (294)",
        "Likes: 1,024",
        "file photo: the minister arrives at the summit",
        "-",
    ],
)
def test_single_furniture_lines_are_removed(furniture):
    text = cleaned("Budget heads to Congress", ARTICLE, furniture, SECOND)
    assert furniture not in text
    assert ARTICLE in text and SECOND in text


@pytest.mark.parametrize("header", ["Related", "Ranking", "Recommendation", "Further reading:", "Most read", "See also"])
def test_link_lists_under_a_header_are_removed(header):
    items = [
        "- Paula Abdul settles lawsuit with former co-star",
        "Police unions often defend their own. But not after the shooting.",
        "What is August's birthstone? There's actually three. Get to know the month's gems.",
        "Woman faces life in prison for killing pregnant woman",
    ]
    text = cleaned("Budget heads to Congress", ARTICLE, SECOND, header, *items)
    for item in items + [header]:
        assert item not in text
    assert text == f"{ARTICLE}\n{SECOND}"


def test_unrelated_headline_list_without_header_is_removed():
    headlines = [
        "Eric Dane's Friends Initiate GoFundMe To 'support' His Two Daughters -",
        "Timothee Chalamet Felt '17 Again' After Reunion With Christopher Nolan -",
        "Giant Tortoise Reintroduced To Island After Almost 200 Years",
    ]
    text = cleaned("Budget heads to Congress", ARTICLE, SECOND, "-", *headlines)
    assert text == f"{ARTICLE}\n{SECOND}"


def test_article_continues_after_a_list_when_a_real_paragraph_follows():
    long_paragraph = (
        "Lawmakers from both parties said they expected a long debate over the measure, which would "
        "also fund bridge inspections in every state for the next five years, officials said."
    )
    text = cleaned("Budget heads to Congress", ARTICLE, "Related", "- A headline", "- Another headline", long_paragraph)
    assert long_paragraph in text and "A headline" not in text


def test_title_and_wire_publisher_are_read_from_the_text_but_not_a_furniture_date():
    result = clean_text(
        "\n".join(["news", "Budget heads to Congress | Example Site", "Date:2024-09-08 10:00:00", ARTICLE, SECOND])
    )
    assert result.title == "Budget heads to Congress"
    # a labelled date in the page's furniture is the page's (a republisher's, here), not the story's
    assert result.published is None and "Date:" not in result.text
    assert result.publisher == "AP"  # the agency as the dateline writes it
    assert result.text.startswith("WASHINGTON (AP)")
    dated = clean_text("\n".join(["Budget heads to Congress | Example Site", "2024-09-08", ARTICLE, SECOND]))
    assert dated.published == "2024-09-08"  # a date line of its own under the title is the story's


def test_written_out_date_is_recognised():
    result = clean_text("\n".join(["Budget heads to Congress", "September 8, 2024", ARTICLE]))
    assert result.published == "2024-09-08"


def test_title_falls_back_to_first_sentence():
    result = clean_text(ARTICLE + "\n" + SECOND)
    assert result.title and result.title.startswith("WASHINGTON (AP)")


def test_bundled_corpus_furniture_is_not_retrievable(pipeline):
    furniture = [
        "Mozambique",
        "Chalamet",
        "Paula Abdul",
        "veryGood",
        "commenting forum",
        "Leave a Reply",
        "Venezuela and Guyana",
        "getty images",
        "further reading",
        "EchoSense",
        "Русский",
        "bookmark",
    ]
    all_text = "\n".join(doc.text for doc in pipeline.index.documents.values())
    lines = {line.strip().lower() for line in all_text.splitlines()}
    assert not lines & {"related", "ranking", "recommendation", "news", "file photo", "-"}
    for phrase in furniture:
        assert phrase.lower() not in all_text.lower(), phrase
        results = pipeline.search(phrase, 50).results
        assert all(phrase.lower() not in r.passage.lower() for r in results)


# --- Furniture glued inside lines (whole articles on one line). Snippets written for these tests,
# in several outlets' styles; none comes from the bundled corpus.

BODY = "The regional council approved the new flood defences on Monday after a two-year review of the river banks."
NEXT = "Work on the first section of the embankment is due to start in the spring, a council spokesman said."


@pytest.mark.parametrize(
    ("raw", "furniture", "kept"),
    [
        ("Share this with Media playback is not supported on this device " + BODY, ["Share this", "Media playback"], BODY),
        (
            "Please enter a valid email address. Oops! Something went wrong, please try again later. " + BODY,
            ["valid email", "went wrong"],
            BODY,
        ),
        ("Thanks for signing up! " + BODY, ["signing up"], BODY),
        (
            "Image copyright Getty Images Image caption Residents watched the water rise on Sunday " + BODY,
            ["copyright", "Getty", "caption", "watched the water"],
            BODY,
        ),
        ("Photo: AP BERLIN (AP) — " + BODY, ["Photo: AP"], "BERLIN (AP) — " + BODY),
        ("PHOTO: REUTERS/Anna Novak KYIV, March 3 — " + BODY, ["PHOTO", "Novak"], "KYIV, March 3 — " + BODY),
        (
            BODY + ' "We will rebuild Jane Doe/AFP every home that was lost," the mayor said on Tuesday.',
            ["Jane Doe", "AFP"],
            '"We will rebuild every home that was lost," the mayor said on Tuesday.',
        ),
        (BODY + " Want more updates from our reporter? Sign up for her newsletter here.", ["Want more", "Sign up"], BODY),
        (
            BODY + " Related stories: Floods hit northern towns Dam repairs delayed again The council said work "
            "would begin in the spring.",
            ["Related", "Floods hit", "Dam repairs"],
            "The council said work would begin in the spring.",
        ),
        (BODY + " Send Facebook Twitter Whatsapp Email Permalink http://example.com/p/2X", ["Facebook", "Permalink"], BODY),
    ],
)
def test_furniture_glued_inside_a_line_is_removed(raw, furniture, kept):
    result = clean_text(raw)
    for phrase in furniture:
        assert phrase not in result.text, (phrase, result.text)
    assert kept in result.text
    assert result.removed  # recorded for debugging


@pytest.mark.parametrize(
    "prose",
    [
        "WASHINGTON (AP) — The Senate voted 51-50 on Tuesday to confirm the nominee after a long debate.",
        "MOSCOW, February 7. /TASS/. Investigators have seized a collection of watches worth 600 mln rubles.",
        "Washington (CNN) Lawmakers returned to the Capitol on Monday to resume talks on the spending bill.",
        '"We are not going to back down," the minister told reporters in Paris on Friday.',
        "The company's share price fell 5% on Monday after it cut its forecast for the year.",
        "The photographer was arrested on Monday and released on bail two days later, police said.",
        "Shareholders will vote on the merger in May, and the board urged them to approve it.",
        "A copyright lawsuit filed by the band was dismissed by the court in March, the lawyers said.",
        "The U.S. Senate and the House passed the bill, which now goes to President Joe Biden.",
        "Readers who subscribed to the paper's print edition fell by a third last year, the report said.",
    ],
)
def test_article_prose_mentioning_photos_shares_or_datelines_is_kept(prose):
    # Below an opening paragraph: at the very start of the body, a sentence glued in front of a
    # dateline is the lead photo's caption (test_photo_label_glued_before_the_dateline_is_removed).
    raw = f"The new flood defences were approved by the council.\n{BODY} {prose}"
    result = clean_text(raw)
    assert result.text == raw, result.removed


# --- The lead photo's caption or credit glued in front of the dateline, and numbered gallery
# captions between paragraphs. Invented snippets; the places, agencies and credits are placeholders
# of the shapes, not a list the cleaner knows.


@pytest.mark.parametrize(
    ("label", "dateline"),
    [
        ("Police officers stand guard outside the courthouse (Northwire Photo)", "WASHINGTON (AP) — "),
        ("Getty Images", "LONDON — "),
        ("Volunteers fill sandbags along the swollen river on Sunday.", "ANKARA, Turkey (AP) — "),
        ("Residents wade through a flooded street (Photo by Jane Doe)", "KYIV, March 3 — "),
        (
            "A rescuer carries a child from the rubble. Photos by Jane Doe / Daily Example",
            "SHANGHAI/BEIJING, March 9 (Reuters) - ",
        ),
        ("The mayor speaks to reporters (Photo: City Hall)", "MOSCOW, February 7. /TASS/. "),
        ("Crowds gather outside the parliament building (EPA)", "Westminster (CNN) "),
        ("Firefighters at the scene. Jane Doe/AFP via Example Images", "SALT LAKE CITY (AP) -- "),
    ],
)
def test_photo_label_glued_before_the_dateline_is_removed(label, dateline):
    result = clean_text(f"Flood defences approved\n{label} {dateline}{BODY}\n{NEXT}")
    assert result.text == f"{dateline}{BODY}\n{NEXT}", result.removed
    assert result.title == "Flood defences approved"


def test_label_removal_keeps_the_dateline_publisher_and_a_short_story():
    # Short enough to be judged as a single line: the credit must not take the story with it.
    result = clean_text("Getty Images WASHINGTON (AP) — The council approved the plan on Monday.")
    assert result.text == "WASHINGTON (AP) — The council approved the plan on Monday."
    assert result.publisher == "AP"
    assert ("label before dateline", "Getty Images") in result.removed


@pytest.mark.parametrize(
    "opening",
    [
        "WASHINGTON (AP) — " + BODY,  # the dateline opens the line: nothing before it
        "The administration is considering cuts to the coast guard and FEMA -- including cuts to disaster grants, "
        "officials said on Tuesday.",
        "The merger closed on Friday. Northwind (NWND) Shares rose 3% in early trading, analysts said.",
        "Leaders agreed on a timetable. NATO -- the alliance the president has criticised -- was not mentioned.",
        "This is the morning briefing for Friday, March 3. BUDGET TALKS STALL AGAIN IN THE CAPITAL — The two parties "
        "failed to agree on spending, aides said.",
        "This is the morning briefing for Friday, March 3. VOTERS DOUBT THE PLAN - Most people surveyed said the "
        "plan would not work, the pollster said.",
        "Budget heads to Congress WASHINGTON (AP) — " + BODY,  # a glued headline ends like no label
        "The storm has closed schools in three counties, cut power to thousands of homes and stranded drivers on "
        "the motorway for most of the night, and forecasters warned on Sunday that more rain was on its way "
        "to the region, where rivers are already close to the top of their banks and several villages have been "
        "told to prepare to leave. LONDON — " + BODY,  # too long to be a caption
    ],
)
def test_openings_that_only_look_like_label_and_dateline_are_kept(opening):
    result = clean_text(opening + "\n" + NEXT)
    assert result.text == opening + "\n" + NEXT, result.removed


def test_caption_before_a_dateline_later_in_the_article_is_kept():
    later = "Officials toured the site on Tuesday. BERLIN (AP) — A second report on the embankment was published."
    assert clean_text(f"{BODY}\n{later}").text == f"{BODY}\n{later}"


@pytest.mark.parametrize(
    "captions",
    [
        ["Image 3 of 10: Firefighters battle the blaze on the hillside above the town"],
        ["Photo 2 of 5 Volunteers hand out bottled water at the shelter (Jane Doe/Example Images)"],
        ["(1 of 8) Firefighters battle the blaze on the hillside above the town on Sunday."],
        ["Slide 4/9 - A child looks out of a bus window as families leave the valley."],
        ["1/12 Supporters wave flags in the main square on Sunday", "2/12 Police officers watch the crowd from a rooftop"],
    ],
)
def test_numbered_gallery_captions_between_paragraphs_are_removed(captions):
    result = clean_text("\n".join(["Flood defences approved", BODY, captions[0], NEXT, *captions[1:]]))
    assert result.text == f"{BODY}\n{NEXT}", result.removed
    assert [reason for reason, _ in result.removed].count("gallery caption") == len(captions)


@pytest.mark.parametrize(
    ("glued", "caption"),
    [
        (" Photo 2 of 5 Volunteers hand out bottled water at the shelter. ", "Volunteers hand out"),
        (" (3 of 8) A child looks out of a bus window as families leave the valley. ", "child looks out"),
        (" 1/6 Supporters wave flags in the main square. 2/6 Officers watch the crowd from a rooftop. ", "wave flags"),
    ],
)
def test_numbered_gallery_captions_glued_inside_a_line_are_removed(glued, caption):
    result = clean_text(BODY + glued + NEXT)
    assert result.text == f"{BODY} {NEXT}", result.removed
    assert caption not in result.text


@pytest.mark.parametrize(
    "prose",
    [
        "9/11 Families gathered at the memorial on Sunday to read the names of the victims aloud.",
        "3/15 Rally planned outside city hall, the organisers said in a statement on Monday.",
        "In 33 of 50 stores visited, the price on the shelf was higher than at the till, inspectors said.",
        "The council published photo 2 of 5 in its report, which showed the damaged bank.",
        "Photo 2 of 5 shows the damaged bank near the bridge, the council said in its report.",
        "Slide 4 of the presentation showed the cost of the embankment rising by a third.",
        "The board was set up under the Flood Act (Act 21 of 2000) and meets four times a year.",
    ],
)
def test_prose_that_looks_like_a_gallery_counter_is_kept(prose):
    result = clean_text(f"{BODY}\n{prose}\n{NEXT}")
    assert result.text == f"{BODY}\n{prose}\n{NEXT}", result.removed
    result = clean_text(f"{BODY} {prose} {NEXT}")
    assert result.text == f"{BODY} {prose} {NEXT}", result.removed


# --- Photo captions standing between paragraphs, ended by their credit. Invented snippets: the
# names and outlets are placeholders of the shapes; the cleaner knows only the generic credit words.

CAPTIONS = [
    "Sandbags line the river bank below the old mill on Sunday. Provided to Example Daily",
    "Jane Doe, head of the regional water board, says the new walls will hold. Photos provided to Example Weekly",
    "Residents wade through a flooded street in the old town [Photo/Agencies]",
    "Volunteers fill sandbags outside the town hall. [Photo by Jane Doe/Example Daily]",
    "The damaged footbridge over the river. Photo: Jane Doe",
    "Engineers inspect the embankment (Photo: Example Water Board)",
    "Workers repair the sluice gate at dawn. Examplewire Photo",
    "The council leader, John Roe, at the site on Monday. Jane Doe / Example Images",
    "Boats moored along the flooded quay. Photos by Jane Doe / Example Daily; John Roe / For Example Daily",
]


@pytest.mark.parametrize("caption", CAPTIONS)
def test_caption_between_paragraphs_is_removed_with_its_credit(caption):
    # Whole articles on one line, blocks separated by runs of spaces, captions often bulleted.
    for raw in (f"{BODY}   - {caption}  {NEXT}", f"{BODY}   {caption}   {NEXT}", f"{BODY}\n{caption}\n{NEXT}"):
        result = clean_text(raw)
        assert result.text.split() == f"{BODY} {NEXT}".split(), (raw, result.removed)
        assert any(reason == "caption" for reason, _ in result.removed)


def test_caption_glued_to_the_next_paragraph_and_caption_before_a_credit_block():
    glued = clean_text(f"{BODY}   - Sandbags line the river bank. Provided to Example Daily {NEXT}")
    assert glued.text.split() == f"{BODY} {NEXT}".split(), glued.removed
    fragment = clean_text(f"{BODY}   Sandbags along the river bank near the mill   Photo: Jane Doe   {NEXT}")
    assert fragment.text.split() == f"{BODY} {NEXT}".split(), fragment.removed
    bulleted = clean_text(f"{BODY}   - Sandbags line the river bank on Sunday.   [Photo/Agencies]   {NEXT}")
    assert bulleted.text.split() == f"{BODY} {NEXT}".split(), bulleted.removed


def test_bulleted_caption_at_the_start_of_the_body_is_removed():
    result = clean_text(f"- Sandbags line the river bank on Sunday. Provided to Example Daily  {BODY}  {NEXT}")
    assert result.text.split() == f"{BODY} {NEXT}".split(), result.removed


@pytest.mark.parametrize(
    "prose",
    [
        "The photos were provided to the court by the family's lawyer, who said they showed the damage.",
        "Pictures published by local media showed residents searching through the mud for their belongings.",
        "She won the World Press Photo award for her image of the flooded valley, the jury said.",
        "The agency credited the photographer, Jane Doe, and said the picture had been taken on Sunday.",
        "Photos from Sunday, examined by engineers in the days after the storm, showed a crack in the wall.",
        "The repairs were paid for courtesy of a grant provided by the regional government, officials said.",
        "Credit rating agencies said the cost of the defences would not hurt the council's finances.",
        "Images of the flood were shared widely online. Photo agencies sold them to papers abroad.",
    ],
)
def test_prose_mentioning_photos_pictures_credit_or_provided_is_kept(prose):
    for raw in (f"{BODY}\n{prose}\n{NEXT}", f"{BODY}   {prose}   {NEXT}", f"{BODY}   - {prose}  {NEXT}"):
        result = clean_text(raw)
        assert prose in result.text, (raw, result.removed)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        # A quote ends like a caption but is the article's: the credit goes, the quote stays.
        (
            f'{BODY}   "We will rebuild every home that was lost," the mayor said on Tuesday. Photo: Jane Doe   {NEXT}',
            '"We will rebuild every home that was lost," the mayor said on Tuesday.',
        ),
        # A dateline sentence opens a story, never a caption.
        (
            f"{BODY}\nBERLIN, March 3 (Reuters) - Officials approved the plan. Photo: Jane Doe\n{NEXT}",
            "BERLIN, March 3 (Reuters) - Officials approved the plan.",
        ),
        # A paragraph that ends like a sentence before a credit block of its own is a paragraph.
        (f"{BODY}   The works will take two years.   Photo: Jane Doe   {NEXT}", "The works will take two years."),
        # The article's opening paragraph, unbulleted, is not taken for a caption.
        (
            f"The council approved the flood defences on Monday. Photo: Jane Doe  {NEXT}",
            "The council approved the flood defences on Monday.",
        ),
        # A block that starts mid-sentence (a double space typed inside a sentence).
        (f"{BODY} The mayor  said the plan was ready. Photo: Jane Doe {NEXT}", "The mayor said the plan was ready."),
        # Too long for a caption: a paragraph that happens to end with a credit.
        (f"{BODY}   {NEXT} {NEXT} {NEXT} Photo: Jane Doe", NEXT),
    ],
)
def test_caption_like_blocks_that_are_article_text_are_kept(raw, kept):
    result = clean_text(raw)
    assert kept in " ".join(result.text.split()), result.removed
    assert "Jane Doe" not in result.text  # the credit itself is furniture wherever it stands


@pytest.mark.parametrize(
    ("block", "kept"),
    [
        ("In this series, The Big Picture: The Cost of Floods looks at who pays for the repairs.", "In this series,"),
        ("Readers sent their own pictures. In Pictures: Storm Hits The Coast", "Readers sent their own pictures."),
    ],
)
def test_titles_with_a_photo_word_and_a_colon_are_not_caption_credits(block, kept):
    # "Picture:" is not a credit here, so the words before it are no caption (what follows the
    # colon is left to the credit-label rule).
    result = clean_text(f"{BODY}   {block}   {NEXT}")
    assert kept in result.text and NEXT in result.text, result.removed
    assert all(reason != "caption" for reason, _ in result.removed)


# --- Wire datelines, dates, credits named by their shape ---------------------------------------


@pytest.mark.parametrize(
    ("dateline", "agency"),
    [
        ("WASHINGTON (AP) — ", "AP"),
        ("SEOUL (Reuters) - ", "Reuters"),
        ("BERLIN, March 3 (dpa) -- ", "dpa"),
        ("LASHKAR GAH, Afghanistan, Feb 28 (Northwire) - ", "Northwire"),
        ("SHANGHAI/WASHINGTON, March 9 (Examplewire) - ", "Examplewire"),
        ("Springfield (Newsdesk) — ", "Newsdesk"),
        ("LONDON (Examplewire) ", "Examplewire"),  # an all-caps place needs no dash
    ],
)
def test_wire_dateline_names_the_publisher_by_its_shape(dateline, agency):
    assert clean_text(f"{dateline}{BODY}\n{NEXT}").publisher == agency


@pytest.mark.parametrize(
    "opening",
    [
        "The International Flood Committee (IFC) President said on Monday that the walls would hold.",
        "The Social Democrats (SPD) have said the new flood defences must be paid for by the region.",
        "BANGALORE (Karnataka), February 17. The regional council approved the new flood defences on Monday.",
        "Northwind (NWND) Shares rose 3% in early trading after the council approved the new flood defences.",
        "Springfield (Newsdesk) Officials approved the new flood defences on Monday after a two-year review.",
        "NATO (Brussels) said on Monday that the new flood defences would be paid for by the alliance.",
    ],
)
def test_initials_in_brackets_that_are_no_dateline_name_no_publisher(opening):
    assert clean_text(f"{opening}\n{NEXT}").publisher is None


@pytest.mark.parametrize(
    ("line", "date"),
    [
        ("Posted 2024-09-08 10:00", "2024-09-08"),
        ("Posted 8 Sept. 2024", "2024-09-08"),
        ("Posted March 3rd, 2021", "2021-03-03"),  # an ordinal day
        ("Posted Sep 2024", "2024-09"),  # no day: the month alone
        ("Posted 2023-02-29, revised 2023-03-01", "2023-03-01"),  # no 29 February in 2023: the next date
        ("Mayor 2024, May 2024", "2024-05"),  # "Mayor" is no month
    ],
)
def test_header_date_is_read_by_dateparser(line, date):
    assert clean_text(f"Budget heads to Congress\n{line}\n{BODY}").published == date


def test_a_line_credited_after_a_bar_or_slash_is_furniture_but_prose_about_images_is_not():
    credited = "the mayor visits the flooded quay | example images"
    prose = "Engineers studied the satellite images of the flooded quay, the council said."
    result = clean_text(f"{BODY}\n{credited}\n{prose}\n{NEXT}")
    assert result.text == f"{BODY}\n{prose}\n{NEXT}", result.removed
    assert any(reason.startswith("furniture") and line == credited for reason, line in result.removed)


def test_a_credit_may_start_with_another_label():
    # The bare credit "Credit:" runs on with "Copyright 2020 Jane Doe": the label of its first token
    # is part of it (a label after the first token would start a new credit). Read the other way,
    # the credit was empty and the caption before it stayed in the text.
    caption = "Sandbags line the river bank on Sunday."
    result = clean_text(f"{BODY}   {caption} Credit: Copyright 2020 Jane Doe The works will take two years.   {NEXT}")
    assert caption not in result.text, result.removed
    assert "The works will take two years." in result.text and "Jane Doe" not in result.text


# --- Each tuned bound of the cleaner, just inside and just outside. Invented text throughout. ---

FILLER = "council members reviewed the plans for northern embankment works again after heavy rain last week".split()


def filler(n: int) -> str:
    """`n` lower-case words of invented prose."""
    return " ".join(FILLER[i % len(FILLER)] for i in range(n))


def of_chars(n: int) -> str:
    """An invented sentence of exactly `n` characters, ending with a full stop."""
    text = ("The council said " + filler(60))[: n - 1]
    return (text[:-1] + "s" if text.endswith(" ") else text) + "."


def kept_between_paragraphs(line: str) -> bool:
    """Does `line`, standing between two paragraphs, survive cleaning?"""
    return line in clean_text(f"{BODY}\n{line}\n{NEXT}").text


def test_language_menu_bound():
    names = ["English", "Deutsch", "Español", "Français"]

    def line(n: int) -> str:
        return f"The council printed its flood leaflets in {' and '.join(names[:n])} for visitors this year."

    assert kept_between_paragraphs(line(cleaning.LANGUAGE_MENU_MIN_NAMES - 1))
    assert not kept_between_paragraphs(line(cleaning.LANGUAGE_MENU_MIN_NAMES))


def test_furniture_vocabulary_bound():
    # "newsletter" makes a short line furniture; a paragraph may mention one.
    def line(n: int) -> str:
        return f"The council newsletter said {filler(n - 4)}."

    assert not kept_between_paragraphs(line(cleaning.FURNITURE_MAX_WORDS))
    assert kept_between_paragraphs(line(cleaning.FURNITURE_MAX_WORDS + 1))


def test_bulleted_line_bound():
    def line(n: int) -> str:  # n words, the bullet counted
        return f"- Council {filler(n - 2)}."

    assert not kept_between_paragraphs(line(cleaning.FURNITURE_MAX_WORDS - 1))
    assert kept_between_paragraphs(line(cleaning.FURNITURE_MAX_WORDS))


@pytest.mark.parametrize(
    ("bound", "end"),
    [("SENTENCE_MIN_WORDS", "."), ("COLON_LINE_MIN_WORDS", ":"), ("UNPUNCTUATED_LINE_MIN_WORDS", "")],
)
def test_prose_length_bounds(bound, end):
    n = getattr(cleaning, bound)
    assert kept_between_paragraphs(f"Council {filler(n - 1)}{end}")
    assert not kept_between_paragraphs(f"Council {filler(n - 2)}{end}")


def test_link_list_end_bound():
    def article(paragraph: str) -> str:
        return clean_text(f"{BODY}\nRelated\n- A headline about the dam\n{paragraph}").text

    inside = of_chars(cleaning.LINK_LIST_END_MIN_CHARS)
    outside = of_chars(cleaning.LINK_LIST_END_MIN_CHARS - 1)
    assert len(inside) == cleaning.LINK_LIST_END_MIN_CHARS
    assert inside in article(inside)
    assert outside not in article(outside)


def test_date_line_bound():
    def published(line: str) -> str | None:
        return clean_text(f"Budget heads to Congress\n{line}\n{BODY}").published

    date = "8 September 2024"
    inside = f"Posted {date} {filler(cleaning.DATE_LINE_MAX_WORDS - 4)}"
    assert len(inside.split()) == cleaning.DATE_LINE_MAX_WORDS
    assert published(inside) == "2024-09-08"
    assert published(f"{inside} again") is None  # a headline with a date in it


def test_title_words_bound():
    def title(header: str) -> str | None:
        return clean_text(f"{header}\n{BODY}").title

    words = ["Flood", "defences", "approved", "today"]
    inside = " ".join(words[: cleaning.TITLE_MIN_WORDS])
    outside = " ".join(words[: cleaning.TITLE_MIN_WORDS - 1])
    assert title(inside) == inside
    assert title(outside) == BODY  # a section label: the title is the first sentence


def test_title_length_bounds():
    inside = of_chars(cleaning.TITLE_MAX_CHARS)
    assert clean_text(f"{inside} {NEXT}").title == inside
    outside = of_chars(cleaning.TITLE_MAX_CHARS + 1)
    title = clean_text(f"{outside} {NEXT}").title
    assert title is not None and title.endswith("…") and len(title) <= cleaning.TITLE_CUT_CHARS


def test_title_cut_bound():
    # Words that end before character TITLE_CUT_CHARS are kept; the word that reaches it goes.
    def first_sentence(word_end: int) -> str:
        head = of_chars(word_end + 1)[:-1]  # `word_end` characters, the last one a word's last letter
        return f"{head} {filler(30)}."

    inside, outside = first_sentence(cleaning.TITLE_CUT_CHARS - 1), first_sentence(cleaning.TITLE_CUT_CHARS)
    assert clean_text(f"{inside} {NEXT}").title == inside[: cleaning.TITLE_CUT_CHARS - 1] + "…"
    assert clean_text(f"{outside} {NEXT}").title == outside[: cleaning.TITLE_CUT_CHARS].rsplit(" ", 1)[0] + "…"
    assert len(clean_text(f"{outside} {NEXT}").title or "") < cleaning.TITLE_CUT_CHARS


def test_reader_prompt_bound():
    def line(n: int) -> str:  # a segment addressing the reader about a newsletter, between sentences
        return f"{BODY} Your newsletter {filler(n - 2)}. {NEXT}"

    assert "Your newsletter" not in clean_text(line(cleaning.PROMPT_MAX_WORDS)).text
    assert "Your newsletter" in clean_text(line(cleaning.PROMPT_MAX_WORDS + 1)).text


def test_reader_question_bound():
    def line(n: int) -> str:
        return f"{BODY} Want {filler(n - 1)}? Sign up for her newsletter here. {NEXT}"

    assert "Want" not in clean_text(line(cleaning.READER_QUESTION_MAX_WORDS)).text
    assert "Want" in clean_text(line(cleaning.READER_QUESTION_MAX_WORDS + 1)).text


def test_share_buttons_bound():
    buttons = ["Facebook", "Twitter", "Email", "Pinterest"]

    def text(n: int) -> str:
        return clean_text(f"{BODY} {' '.join(buttons[:n])} {NEXT}").text

    assert "Facebook" not in text(cleaning.SHARE_BUTTONS_MIN_RUN)
    assert "Facebook" in text(cleaning.SHARE_BUTTONS_MIN_RUN - 1)


NAMES = "Alder Birch Cedar Dogwood Elmwood Firth Ginkgo Hazel Ivywood Juniper Kestrel Larch".split()


def spans_of(line: str, reason: str, galleries: frozenset[int] = frozenset()) -> list[str]:
    """The pieces of `line` that `inline_furniture` finds for `reason`."""
    return [line[a:b] for a, b, r in inline_furniture(line, galleries) if r == reason]


def test_credit_length_bound():
    def credit(n: int) -> list[str]:
        return spans_of(f"Photo: {' '.join(NAMES[:n])} {NEXT}", "credit")

    assert credit(cleaning.CREDIT_MAX_TOKENS) == ["Photo: " + " ".join(NAMES[: cleaning.CREDIT_MAX_TOKENS])]
    assert credit(cleaning.CREDIT_MAX_TOKENS + 1) == ["Photo: " + " ".join(NAMES[: cleaning.CREDIT_MAX_TOKENS])]
    assert NAMES[cleaning.CREDIT_MAX_TOKENS] not in credit(cleaning.CREDIT_MAX_TOKENS + 1)[0]


def test_resume_bound():
    # A teaser runs until an opener ("The ...") starts the article's sentence again, if one comes soon.
    def teaser(n: int) -> list[str]:
        return spans_of(f"{BODY} Related stories: {filler(n)} The council said work would begin soon.", "teaser")

    assert teaser(cleaning.RESUME_MAX_WORDS - 1) == [f"Related stories: {filler(cleaning.RESUME_MAX_WORDS - 1)} "]
    assert teaser(cleaning.RESUME_MAX_WORDS) == ["Related stories:"]


def test_lone_label_bound():
    def caption(n: int) -> list[str]:
        return spans_of(f"{BODY} Image caption {filler(n)}", "caption")

    assert caption(cleaning.LONE_LABEL_MAX_WORDS) == [f"Image caption {filler(cleaning.LONE_LABEL_MAX_WORDS)}"]
    assert caption(cleaning.LONE_LABEL_MAX_WORDS + 1) == ["Image caption"]


def test_name_resume_bound():
    # A capitalised name between lower-case words resumes the article only after the teaser's first words.
    def teaser(k: int) -> list[str]:
        return spans_of(f"{BODY} Related stories: {filler(k)} Northam {filler(20)}", "teaser")

    assert teaser(cleaning.NAME_RESUME_MIN_WORDS) == [f"Related stories: {filler(cleaning.NAME_RESUME_MIN_WORDS)} "]
    assert teaser(cleaning.NAME_RESUME_MIN_WORDS - 1) == ["Related stories:"]


def test_label_before_dateline_bound():
    def label(n: int) -> str:
        return f"Volunteers {filler(n - 2)} river."

    inside = label(cleaning.LABEL_MAX_WORDS)
    assert label_before_dateline(f"{inside} LONDON — {BODY}") == len(inside) + 1
    assert label_before_dateline(f"{label(cleaning.LABEL_MAX_WORDS + 1)} LONDON — {BODY}") is None


def test_label_window_bound():
    # The window holds the longest label and a dateline of DATELINE_MAX_WORDS words, and no more.
    dateline = "SALT LAKE CITY, Utah Valley Region, March 9 (AP) —"
    label = f"Volunteers {filler(cleaning.LABEL_MAX_WORDS - 2)} river."
    assert label_before_dateline(f"{label} {dateline} {BODY}") == len(label) + 1
    words = filler(200).split()
    window = cleaning.LABEL_WINDOW_RE.match(" ".join(words))
    assert window is not None
    assert window.group().split() == words[: cleaning.LABEL_MAX_WORDS + cleaning.DATELINE_MAX_WORDS + 1]


def test_gallery_caption_length_bound():
    def line(n: int) -> str:
        return f"Image 3 of 10: Firefighters {filler(n - 5)}"

    assert len(line(cleaning.CAPTION_MAX_WORDS).split()) == cleaning.CAPTION_MAX_WORDS
    assert is_gallery_caption(line(cleaning.CAPTION_MAX_WORDS))
    assert not is_gallery_caption(line(cleaning.CAPTION_MAX_WORDS + 1))


def test_gallery_items_bound():
    items = [f"{n}/12 Supporters wave flags in the square" for n in range(1, 5)]
    assert gallery_totals("\n".join(items[: cleaning.GALLERY_MIN_ITEMS])) == {12}
    assert gallery_totals("\n".join(items[: cleaning.GALLERY_MIN_ITEMS - 1])) == frozenset()


def test_block_break_bound():
    def captions(gap: int) -> list[str]:
        line = f"The council met on Monday{' ' * gap}(3 of 8) A child looks out of a bus window as families leave."
        return spans_of(line, "gallery caption")

    assert captions(cleaning.BLOCK_BREAK_SPACES)
    assert not captions(cleaning.BLOCK_BREAK_SPACES - 1)


def caption_spans(line: str) -> list[str]:
    return [line[a:b].strip() for a, b, _ in captions_between_paragraphs(line)]


def test_caption_block_bound():
    def block(n: int) -> str:
        return f"Sandbags {filler(n - 1)}. Photo: Jane Doe"

    assert caption_spans(f"{BODY}   {block(cleaning.CAPTION_BLOCK_MAX_WORDS)}   {NEXT}")
    assert not caption_spans(f"{BODY}   {block(cleaning.CAPTION_BLOCK_MAX_WORDS + 1)}   {NEXT}")


def test_caption_min_words_bound():
    words = ["Sandbags", "piled", "high"]

    def block(n: int) -> str:
        return f"{' '.join(words[:n])}. Photo: Jane Doe"

    assert caption_spans(f"{BODY}   {block(cleaning.CAPTION_MIN_WORDS)}   {NEXT}")
    assert not caption_spans(f"{BODY}   {block(cleaning.CAPTION_MIN_WORDS - 1)}   {NEXT}")


def test_caption_before_credit_block_bound():
    def line(n: int) -> str:
        return f"{BODY}   Sandbags {filler(n - 1)}   Photo: Jane Doe   {NEXT}"

    assert caption_spans(line(cleaning.CAPTION_BEFORE_CREDIT_MAX_WORDS))
    assert not caption_spans(line(cleaning.CAPTION_BEFORE_CREDIT_MAX_WORDS + 1))


def test_name_photo_window_bound():
    def line(credit_chars: int) -> str:
        name = ("Example" + "-Example" * 40)[: credit_chars - len(" Photo")]
        return f"{BODY}   Workers repair the sluice gate at dawn. {name} Photo   {NEXT}"

    assert caption_spans(line(cleaning.NAME_PHOTO_WINDOW_CHARS))
    assert not caption_spans(line(cleaning.NAME_PHOTO_WINDOW_CHARS + 1))


def test_credit_tail_length_bound():
    # A credit of names runs to the end of its block; a longer run is cut where a credit ends.
    def caption(n: int) -> tuple[list[str], str]:
        block = "Boats moored along the quay. Photos by " + " ".join((NAMES * 3)[:n])
        return caption_spans(f"{BODY}   {block}   {NEXT}"), block

    spans, whole = caption(cleaning.CREDIT_TAIL_MAX_WORDS)
    assert spans == [whole]
    spans, whole = caption(cleaning.CREDIT_TAIL_MAX_WORDS + 1)
    assert spans and spans != [whole]


def test_credit_tail_lowercase_bound():
    def caption(tail: str) -> list[str]:
        return caption_spans(f"{BODY}   Boats moored along the quay. Photos by Jane Doe {tail}   {NEXT}")

    lowercase = ["staff", "photographer"]
    inside = " ".join(lowercase[: cleaning.CREDIT_TAIL_MAX_LOWERCASE])
    assert caption(inside) == [f"Boats moored along the quay. Photos by Jane Doe {inside}"]
    outside = " ".join(lowercase[: cleaning.CREDIT_TAIL_MAX_LOWERCASE + 1])
    assert all(outside not in span for span in caption(outside))  # not a credit's tail: left to the prose


def test_abbreviation_bound():
    # Inside a credit, a short word with a full stop is an abbreviation; a longer one ends a sentence.
    def caption(word: str) -> list[str]:
        return caption_spans(f"{BODY}   Boats moored along the quay. Photos by Jane Doe for {word}. Example staff   {NEXT}")

    inside = "Abcdefg"[: cleaning.ABBREVIATION_MAX_LETTERS]
    outside = "Abcdefg"[: cleaning.ABBREVIATION_MAX_LETTERS + 1]
    assert caption(inside) == [f"Boats moored along the quay. Photos by Jane Doe for {inside}. Example staff"]
    assert caption(outside) == [f"Boats moored along the quay. Photos by Jane Doe for {outside}."]
