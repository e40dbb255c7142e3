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

from ._findings import Finding

PERSON = "person"
STREET_ADDRESS = "street_address"

_WORD = r"[A-Z][a-zà-ÿ]+(?:[-'][A-Z]?[a-zà-ÿ]+)?"
_NAME = rf"{_WORD}(?: (?:[A-Z]\. )?{_WORD}){{0,2}}"
_FULL_NAME = rf"{_WORD}(?: (?:[A-Z]\. )?{_WORD}){{1,2}}"
_PERSON_RULES = tuple(
    re.compile(pattern)
    for pattern in (
        rf"\b(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Herr|Frau|Mme|Mlle|Sr|Sra)\.? ({_NAME})",
        rf"(?i:\bmy name is|\bmy name's|\bname:|\bdear|\bsigned,?|\bich bin|\bje m'appelle|\bme llamo) ({_NAME})",
        rf"(?i:\bi am|\bi'm|\bthis is|\bhi|\bhello|\bthanks,|\bregards,|\bsincerely,|\bcheers,|\bbest,|\bcontact)\s{{1,2}}({_FULL_NAME})",
        rf"""["']?(?i:name|full_?name|first_?name|last_?name|customer_?name|contact_?name|patient_?name|display_?name|"""
        rf"""sender|recipient|author)["']?\s*[:=]\s*\\?["']?({_NAME})""",
    )
)
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
_STREET_RULES = tuple(
    re.compile(pattern)
    for pattern in (
        rf"(?:\b(?:Flat|Studio|Apartment|Unit) [0-9]{{1,4}}[A-Za-z]?, )?\b[0-9]{{1,6}}[A-Za-z]? (?:[NSEW]\.? )?(?:[A-Z][A-Za-z'.\-]* ){{1,4}}"
        rf"(?:{_STREET_TYPES})\b\.?(?: [NSEW]{{1,2}}\b)?{_UNIT}",
        rf"\b(?:Flat|Studio|Apartment|Unit) [0-9]{{1,4}}[A-Za-z]?, (?:[A-Z][A-Za-z'.\-]* ){{1,3}}(?:{_STREET_TYPES})\b",
        r"\b[A-ZÄÖÜ][a-zäöüß\-]*(?:-[A-ZÄÖÜ][a-zäöüß]+)*-?(?:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|ufer|Straße|Weg|Platz|Allee|Gasse|Ring)"
        r" [0-9]{1,4}[a-z]?(?:[-/][0-9]{1,4}[a-z]?)?\b",
        r"\b[0-9]{1,4}(?:bis|ter)?,? (?:rue|avenue|boulevard|bd|chemin|place|allée|impasse|quai) (?:[a-zA-Zàâçéèêëîïôûùüÿ'\-]+ ){0,4}[A-ZÀ-Ý][a-zà-ÿ\-]+",
    )
)


def scan_names(text: str) -> list[Finding]:
    """Names where the text cues one."""
    found = []
    for rule in _PERSON_RULES:
        for m in rule.finditer(text):
            start, end = m.span(1)
            words = m.group(1).split(" ")
            while words and words[-1] in _NOT_NAMES:
                end -= len(words.pop()) + 1
            if words and words[0] not in _NOT_NAMES:
                found.append(Finding(PERSON, start, end))
    return found


def scan_street_addresses(text: str) -> list[Finding]:
    return [Finding(STREET_ADDRESS, m.start(), m.end()) for rule in _STREET_RULES for m in rule.finditer(text)]
