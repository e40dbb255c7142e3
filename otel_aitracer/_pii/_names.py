"""Person names and street addresses by rules, without a language model: fast enough for a pipeline,
and honest about what they miss.

A name is found where the text says one follows: an honorific (``Mr. Smith``, ``Dr. Jane Doe``), a
self-introduction or salutation (``my name is …``, ``Dear …``, ``Best regards,\\n…``), a field that
holds a name (``"customer_name": "…"``, ``Name: …``). A name the text gives no cue for ("I met Jane
yesterday") is missed; that is the price of not running a model (``nlp_model=`` runs one).

A street address is a house number, one to four capitalised words and a street type (``221B Baker
Street``, ``1600 Pennsylvania Ave NW``), or the German and French forms (``Hauptstraße 12``, ``12 rue
de la Paix``), with an apartment or suite if one follows.
"""

from __future__ import annotations

import re

from ._findings import Finding, seed_starts

PERSON = "person"
STREET_ADDRESS = "street_address"

_WORD = r"[A-Z][a-zà-ÿ]{1,30}(?:[-'][A-Z]?[a-zà-ÿ]{1,30})?"
_NAME = rf"{_WORD}(?: (?:[A-Z]\. )?{_WORD}){{0,2}}"
_FULL_NAME = rf"{_WORD}(?: (?:[A-Z]\. )?{_WORD}){{1,2}}"
# (cue with what may follow it, the name after it). Each rule's seed is its cue and a capital letter:
# found in one pass (:mod:`._prefilter`) or by ``re``, and the rule is tried where each seed starts.
_CUES = (
    (r"\b(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Herr|Frau|Mme|Mlle|Sr|Sra)\.? ", _NAME),
    (r"(?i:\bmy name is|\bmy name's|\bname:|\bdear|\bsigned,?|\bich bin|\bje m'appelle|\bme llamo) ", _NAME),
    (r"(?i:\bi am|\bi'm|\bthis is|\bhi|\bhello|\bthanks,|\bregards,|\bsincerely,|\bcheers,|\bbest,|\bcontact)\s{1,2}", _FULL_NAME),
    (
        r"""(?i:name|full_?name|first_?name|last_?name|customer_?name|contact_?name|patient_?name|display_?name|sender|"""
        r"""recipient|author)["']?[ \t]{0,4}[:=][ \t]{0,4}\\?["']?""",
        _NAME,
    ),
)
_PERSON_RULES = tuple(re.compile(f"{cue}({name})") for cue, name in _CUES)
# Capitalised words a cue is often followed by that are not names.
_NOT_NAMES = frozenset(
    "I The A An This That We You It He She They Here There Team Support Sir Madam All Everyone Customer Thanks Thank "
    "Good Great Sure Yes No Okay Ok Hi Hello Dear Best Regards Sincerely Cheers Happy Sorry Please Just Also Not Now Glad "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August September "
    "October November December Python Java Claude ChatGPT Gemini Mr Mrs Ms Mx Miss Dr Prof Herr Frau Mme Mlle Sr Sra".split()
)

_STREET_TYPES = (  # the common street suffixes of US postal addressing, and British ones
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl|Parkway|Pkwy|Terrace|Circle|"
    "Highway|Hwy|Square|Sq|Trail|Crescent|Close|Alley|Plaza|Throughway|Expressway|Freeway|Turnpike|Trafficway|Skyway|"
    "Isle|Island|Summit|Extension|Points?|Brooks?|Mountains?|Mount|Ridges?|Hills?|Valleys?|Views?|Parks?|Pass|Path|Pike|"
    "Ports?|Run|Shoals?|Springs?|Station|Stream|Tunnel|Union|Village|Ville|Vista|Walk|Wells?|Crossing|Creek|Cove|Corners?|"
    "Estates?|Falls|Ferry|Fields?|Flats?|Fords?|Forest|Forges?|Forks?|Fort|Gardens?|Gateway|Glen|Greens?|Grove|Harbou?r|"
    "Haven|Heights|Hollow|Inlet|Junction|Keys?|Knolls?|Lakes?|Landing|Lights?|Locks?|Lodge|Loop|Mall|Manor|Meadows?|Mews|"
    "Mills?|Mission|Motorway|Neck|Orchard|Oval|Prairie|Ranch|Rapids?|Rest|Route|Row|Shores?|Spur|Trace|Track|Underpass|"
    "Viaduct|Wharf|Gate|Green|Rise|Parade|Grange|Vale|End|Yard"
)
_UNIT = r"(?:,? (?:Apt|Apartment|Suite|Ste|Unit|Flat|#)\.? ?[A-Za-z0-9\-]{1,8})?"
_CAPITALISED = r"[A-Z][A-Za-z'.\-]{0,30}"
_GERMAN_TYPES = "straße|strasse|str\\.|weg|platz|allee|gasse|ring|damm|ufer|Straße|Weg|Platz|Allee|Gasse|Ring"
_FRENCH_TYPES = "rue|avenue|boulevard|bd|chemin|place|allée|impasse|quai"
# (rule, seed, how far a match reaches before the seed's start and after its end). Every word is
# bounded, so a window of that reach around each seed holds every match the rule can make there.
_STREET_RULES: tuple[tuple[re.Pattern[str], str, int, int], ...] = tuple(
    (re.compile(rule), seed, back, ahead)
    for rule, seed, back, ahead in (
        (
            rf"(?:\b(?:Flat|Studio|Apartment|Unit) [0-9]{{1,4}}[A-Za-z]?, )?\b[0-9]{{1,6}}[A-Za-z]? (?:[NSEW]\.? )?(?:{_CAPITALISED} ){{1,4}}"
            rf"(?:{_STREET_TYPES})\b\.?(?: [NSEW]{{1,2}}\b)?{_UNIT}",
            rf" (?:{_STREET_TYPES})\b", 170, 40,
        ),
        (rf"\b(?:Flat|Studio|Apartment|Unit) [0-9]{{1,4}}[A-Za-z]?, (?:{_CAPITALISED} ){{1,3}}(?:{_STREET_TYPES})\b", rf" (?:{_STREET_TYPES})\b", 170, 40),
        (
            rf"\b[A-ZÄÖÜ][a-zäöüß\-]{{0,40}}(?:-[A-ZÄÖÜ][a-zäöüß]{{1,30}}){{0,4}}-?(?:{_GERMAN_TYPES}) [0-9]{{1,4}}[a-z]?(?:[-/][0-9]{{1,4}}[a-z]?)?\b",
            rf"(?:{_GERMAN_TYPES}) [0-9]", 180, 20,
        ),
        (
            rf"\b[0-9]{{1,4}}(?:bis|ter)?,? (?:{_FRENCH_TYPES}) (?:[a-zA-Zàâçéèêëîïôûùüÿ'\-]{{1,30}} ){{0,4}}[A-ZÀ-Ý][a-zà-ÿ\-]{{0,30}}",
            rf"\b[0-9]{{1,4}}(?:bis|ter)?,? (?:{_FRENCH_TYPES}) ", 0, 170,
        ),
    )  # fmt: skip
)
# The seeds of both types, for the prefilter: the person rules' first, then the street rules'.
SEEDS: tuple[bytes, ...] = tuple(s.encode() for s in (*(f"{cue}[A-Z]" for cue, _ in _CUES), *(seed for _, seed, _, _ in _STREET_RULES)))
_PERSON_SEEDS = tuple(re.compile(f"{cue}[A-Z]") for cue, _ in _CUES)
_STREET_SEEDS = len(_CUES)


def scan_names(text: str, seeds: list[tuple[int, int, int]] | None = None) -> list[Finding]:
    """Names where the text cues one; ``seeds``: where the prefilter saw the cues (:data:`SEEDS`)."""
    if seeds is None:
        seeds = [(i, start, start) for i, seed in enumerate(_PERSON_SEEDS) for start in seed_starts(seed, text)]
    found: list[Finding] = []
    for index, start, _ in seeds:
        m = _PERSON_RULES[index].match(text, start) if index < _STREET_SEEDS else None
        if m is None:
            continue
        name_start, end = m.span(1)
        words = m.group(1).split(" ")
        while words and words[-1] in _NOT_NAMES:
            end -= len(words.pop()) + 1
        if words and words[0] not in _NOT_NAMES:
            found.append(Finding(PERSON, name_start, end))
    return found


def scan_street_addresses(text: str, seeds: list[tuple[int, int, int]] | None = None) -> list[Finding]:
    """Street addresses; only in windows around ``seeds`` when the prefilter found them."""
    found: list[Finding] = []
    for index, (rule, _, back, ahead) in enumerate(_STREET_RULES):
        if seeds is None:
            matches = rule.finditer(text)
        else:
            spans = [(start, end) for i, start, end in seeds if i == _STREET_SEEDS + index]
            matches = (m for lo, hi in _windows(spans, back, ahead, len(text)) for m in rule.finditer(text, lo, hi))
        found.extend(Finding(STREET_ADDRESS, m.start(), m.end()) for m in matches)
    return found


def _windows(spans: list[tuple[int, int]], back: int, ahead: int, length: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        lo, hi = max(0, start - back), min(length, end + ahead)
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged
