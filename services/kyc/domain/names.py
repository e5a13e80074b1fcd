"""Name normalization for sanctions screening: case-, accent-, spacing- and order-insensitive."""

import unicodedata

# Latin letters that NFKD does not decompose into base letter + mark. Folded by hand because the
# usual transliteration library (Unidecode) is GPL-licensed.
_UNDECOMPOSABLE_LETTERS = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "Ð": "d",
        "ħ": "h",
        "Ħ": "h",
        "ı": "i",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "þ": "th",
        "Þ": "th",
    }
)


# Apostrophes join (O'Brien = OBrien); every other non-letter separates (Garcia-Lopez = Garcia Lopez).
_JOINING_PUNCTUATION = frozenset("'\u2019\u02bc`\u00b4")


def _fold_character(char: str) -> str:
    """Letters and digits pass; marks and apostrophes vanish; everything else separates tokens."""
    category = unicodedata.category(char)
    if category.startswith(("L", "N")):
        return char
    if category.startswith("M") or char in _JOINING_PUNCTUATION:
        return ""
    return " "


def _fold(text: str) -> str:
    # Decompose first so a stroked letter carrying an accent (U+01FF) becomes U+00F8 + mark,
    # which the table can then fold.
    decomposed = unicodedata.normalize("NFKD", text).translate(_UNDECOMPOSABLE_LETTERS)
    return "".join(_fold_character(char) for char in decomposed)


def name_tokens(name: str) -> list[str]:
    """The sorted, folded tokens of a name: "Núñez-García, José" -> ["garcia", "jose", "nunez"]."""
    # casefold can itself produce decomposable characters, so fold once more after it.
    return sorted(_fold(_fold(name).casefold()).split())


def normalize_name(name: str) -> str:
    """One comparable string per person, whatever the spelling variant of accents, case,
    whitespace, punctuation or token order."""
    return " ".join(name_tokens(name))
