"""The Markdown reader: sections, blocks and quotable units."""

from chatbot.knowledge.markdown import parse_blocks, parse_sections, plain, split_sentences

BODY = """# Title

Intro sentence one. Intro sentence two!

## Part A

Lead in:

- **Bold item:** with text
- Plain item
   - nested under plain

### Sub

| Symptom | Likely Cause |
| --- | --- |
| Pain + swelling | Tendonitis |
| Burning | Nerve |

## Part B

1. First
2. Second
"""


def test_sections_follow_the_heading_tree():
    root = parse_sections(BODY)
    assert root.title == "Title"
    assert [s.path for s in root.walk()] == [(), ("Part A",), ("Part A", "Sub"), ("Part B",)]
    assert [b.kind for b in root.children[0].blocks] == ["paragraph", "list"]


def test_units_are_exact_substrings_of_their_block():
    for section in parse_sections(BODY).walk():
        for block in section.blocks:
            for unit in block.units():
                assert unit.text in block.markdown


def test_list_items_know_their_parent_and_tables_their_header():
    section_a, sub = parse_sections(BODY).children[0], parse_sections(BODY).children[0].children[0]
    items = section_a.blocks[1].units()
    assert [(u.text, u.depth, u.parent) for u in items] == [
        ("**Bold item:** with text", 0, ""),
        ("Plain item", 0, ""),
        ("nested under plain", 1, "Plain item"),
    ]
    rows = sub.blocks[0].units()
    assert [r.cells for r in rows] == [("Pain + swelling", "Tendonitis"), ("Burning", "Nerve")]
    assert rows[0].header == ("Symptom", "Likely Cause")


def test_sentences_split_on_their_ends_only():
    assert split_sentences("Rest (often 6-8 weeks). Then walk. Ice for 15-20 minutes.") == [
        "Rest (often 6-8 weeks).", "Then walk.", "Ice for 15-20 minutes.",
    ]
    assert split_sentences("Similar to carpal tunnel syndrome, but in the ankle.") == [
        "Similar to carpal tunnel syndrome, but in the ankle."
    ]


def test_plain_text_drops_markup():
    assert plain("- **X-rays:** To check bones") == "X-rays: To check bones"
    assert plain("| Burning | Nerve |") == "Burning | Nerve"
    assert plain("| A | B |\n| --- | --- |\n| c | d |") == "A | B\nc | d"


def test_rules_and_blank_lines_separate_blocks():
    kinds = [b.kind for b in parse_blocks("Para one\ncontinues.\n\n---\n\n- item\n\nPara two.")]
    assert kinds == ["paragraph", "rule", "list", "paragraph"]
