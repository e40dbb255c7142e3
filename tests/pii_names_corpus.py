"""A labelled set for the optional ``person`` and ``street_address`` types: names (most with a cue the
text gives, some without) and street addresses of four locales, with look-alikes that are neither."""

from __future__ import annotations

import random

from faker import Faker

from .pii_corpus import SEED, Sample, locate

_CUED_NAME = ("My name is {}.", "Dear {},", "Thanks,\n{}", "Best regards,\n{}", '{{"customer_name": "{}"}}', "Name: {}", "Hi, this is {}.", "I'm {} from support.")
_UNCUED_NAME = ("I met {} at the conference.", "{} approved the pull request.", "Ask {} about it.")
_NOT_A_NAME_OR_ADDRESS = (
    "Route 66 is long.", "Read the 3 Main features first.", "I am Happy to help.", "Dear Customer,", "Hello World!",
    "The Team", "Update 2 Main Street Fighter levels", "Chapter 12 Park Place rules", "Thanks, Everyone.",
)


def names_and_addresses(n: int = 600, seed: int = SEED) -> list[Sample]:
    """Names (most with a cue the text gives, some without) and street addresses (US, UK, German, French),
    with look-alikes that are neither."""
    rng = random.Random(seed)
    Faker.seed(seed)
    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR"])
    samples = []
    for _ in range(n):
        f = fake[rng.choice(["en_US", "en_GB", "de_DE", "fr_FR"])]
        name = f.name() if rng.random() < 0.7 else f"{rng.choice(['Mr.', 'Ms.', 'Dr.'])} {f.last_name()}"
        said = rng.choice(_CUED_NAME if rng.random() < 0.8 else _UNCUED_NAME).format(name)
        address = f.street_address().replace("\n", ", ")
        text = f"{fake['en_US'].sentence()} {said} Please ship it to {address}. {rng.choice(_NOT_A_NAME_OR_ADDRESS)}"
        person = name.split(" ", 1)[1] if name.startswith(("Mr.", "Ms.", "Dr.")) else name
        sample = locate(text, [("person", person), ("street_address", address)], [])
        samples.append(sample)
    return samples
