import pytest

from nightcast.text import normalize_for_speech, split_sentences


@pytest.mark.parametrize(
    "written, spoken",
    [
        ("Dr. Dre feat. Snoop Dogg", "Doctor Dre featuring Snoop Dogg"),
        ("Simon & Garfunkel", "Simon and Garfunkel"),
        ("You played “So What” 14 times.", "You played, “So What” fourteen times."),  # a beat before the title
        ("Here, “Venom”.", "Here, “Venom”."),
        ("Tickets are $4.99 or €10, and £1.50.", "Tickets are four dollars and ninety nine cents or ten euros, and one pound and fifty pence."),
        ("It costs $1.", "It costs one dollar."),
        ("Visit nightcast.fm/maya for more 🎧✨!", "Visit nightcast dot fm slash maya for more!"),
        ("Go to https://www.example.com today.", "Go to example dot com today."),
        ("ABBA, MGMT and R.E.M. on the DJ set.", "Abba, M G M T and R E M on the D J set."),
        ("U2 and AC/DC", "U two and A C D C"),
        ("Jay-Z vs. Nas", "Jay-Z versus Nas"),
        ("the 90s and the ’80s", "the nineties and the eighties"),
        ("recorded in 1959,", "recorded in nineteen fifty nine,"),
        ("the 1970s", "the nineteen seventies"),
        ("the '90s", "the nineties"),
        ("It's 7:05 am", "It's seven oh five A M"),
        ("at 11:00", "at eleven o'clock"),
        ("31 plays", "thirty one plays"),
        ("12,000 streams", "twelve thousand streams"),
        ("3.5 stars", "three point five stars"),
        ("the 3rd time", "the third time"),
        ("45% of $20", "forty five percent of twenty dollars"),
        ("No. 5", "number five"),
    ],
)
def test_normalize_for_speech(written, spoken):
    assert normalize_for_speech(written) == spoken


def test_pronunciation_overrides_whole_words_only():
    said = normalize_for_speech("Sade and Sadeness", {"Sade": "Shar-day"})
    assert said == "Shar-day and Sadeness"


def test_split_sentences_keeps_abbreviations_and_initials():
    text = "Dr. Dre feat. Snoop Dogg was big. Then came J. Cole! Really? Yes."
    assert split_sentences(text) == ["Dr. Dre feat. Snoop Dogg was big.", "Then came J. Cole!", "Really?", "Yes."]
