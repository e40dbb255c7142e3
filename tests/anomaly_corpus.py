"""A labelled set of realistic model calls for the anomaly scores (SPEC §9): clean ones, which must get no
code, and broken ones, each with the codes it must get. Used by ``tests/test_anomaly_scores.py`` and
``bench/bench_scoring.py`` (precision per code).

Each case is ``(system, user, output, expected codes)``; latency, cost and tokens are ordinary (L4 is
tested on its own).
"""

from __future__ import annotations

from typing import Any

Case = tuple[str, str, str, tuple[int, ...]]

CLEAN: list[Case] = [
    ("You are a helpful assistant.", "What is the capital of France?", "The capital of France is Paris.", ()),
    ("", "Write a haiku about autumn.", "Crisp leaves drift and fall\nAmber light on quiet roads\nThe year exhales slow", ()),
    ("Respond in JSON.", "Extract the city from: 'I live in Oslo'.", '{"city": "Oslo"}', ()),
    ("Return only valid JSON with keys \"name\" and \"age\".", "Alice is 31.", '{"name": "Alice", "age": 31}', ()),
    ("Answer with JSON only.", "List three primes.", "```json\n[2, 3, 5]\n```", ()),
    ("Output JSON like {\"sentiment\": \"positive\", \"confidence\": 0.9}.", "I love it!", '{"sentiment": "positive", "confidence": 0.97}', ()),
    ("Answer yes or no.", "Is water wet?", "Yes.", ()),
    ("Answer yes or no.", "Is the sun cold?", "No", ()),
    ("", "Is 17 prime? Reply yes/no.", "yes", ()),
    ("", "Can penguins fly? Answer yes or no, then explain briefly.", "No, penguins cannot fly; their wings are flippers.", ()),
    ("Classify the sentiment as one of: positive, negative, neutral.", "The food was fine.", "neutral", ()),
    ("Reply with exactly one of 'billing', 'technical', 'other'.", "My invoice is wrong.", "billing", ()),
    ("Choose from: red, green, blue.", "What color is the sky on a clear day?", "Blue.", ()),
    ("Label the ticket as one of [urgent, normal, low].", "Server is down!", "The label is urgent.", ()),
    ("Summarize in 20 words or fewer.", "Long article about tides.", "Tides rise and fall twice daily because the Moon's gravity pulls on Earth's oceans.", ()),
    ("Answer in at most 10 words.", "Why is the sky blue?", "Air scatters blue sunlight more than red.", ()),
    ("", "Explain recursion.", "Recursion is when a function calls itself to solve smaller instances of a problem until a base case is reached.", ()),
    ("You are a SQL expert.", "Write a query counting users.", "SELECT COUNT(*) FROM users;", ()),
    ("", "Give me a Python function that adds two numbers.", "def add(a, b):\n    return a + b", ()),
    ("", "Translate 'good morning' to Spanish.", "Buenos días.", ()),
    ("Use at most 5 words per bullet.", "List benefits of exercise.", "- Better sleep at night\n- Stronger heart and lungs\n- Improved mood overall", ()),
    ("", "Explain this JSON object: {\"a\": 1}", "It is an object with one key, a, whose value is 1.", ()),
    ("", "Name one of the planets, then describe it.", "Mars is the red planet, fourth from the Sun.", ()),
    ("", "What's 12 * 12?", "144", ()),
    ("Be concise.", "Define entropy.", "Entropy measures the disorder or uncertainty in a system.", ()),
    ("Respond in JSON with fields \"title\" and \"tags\".", "Blog post about hiking.", '{"title": "Into the Hills", "tags": ["hiking", "outdoors"]}', ()),
    ("", "Write a limerick about a cat.", "A cat with a very long tail\nOnce tried to set off on a sail\nShe paddled all day\nIn a leisurely way\nThen napped on the deck in a pail", ()),
    ("", "Give a JSON example of a user.", 'Here is one: {"id": 1, "name": "Ada"}', ()),
    ("Return JSON.", "Give an empty list.", "[]", ()),
    ("", "Say hello in French.", "Bonjour !", ()),
    ("You answer questions about our product.", "How do I reset my password?", "Open Settings, choose Security, then click Reset password and follow the email link.", ()),
    ("", "Is it better to use tabs or spaces?", "It depends on your team's style guide; consistency matters most.", ()),
    ("Answer yes or no.", "Is Python dynamically typed?", "Yes — it checks types at run time.", ()),
    ("Reply with one of: approve, reject.", "Expense: $20 lunch with client.", "Approve", ()),
    ("Respond only in valid JSON.", "Convert 'a=1;b=2' to an object.", '{"a": 1, "b": 2}', ()),
    ("", "Write a short story opening in 30 words or less.", "The lighthouse keeper found a letter in the fog, addressed to him, dated fifty years from now.", ()),
    ("", "Sort these: 3, 1, 2", "1, 2, 3", ()),
    ("", "What does HTTP stand for?", "HyperText Transfer Protocol.", ()),
    ("", "Draft a polite decline to a meeting.", "Thank you for the invitation; unfortunately I can't attend, but please share the notes afterwards.", ()),
    ("Format the answer as JSON with key \"items\".", "Fruits: apple, pear.", '{"items": ["apple", "pear"]}', ()),
    ("", "Give me a regex for digits.", "\\d+", ()),
    ("", "What are the brackets in (a [b] {c})?", "Round, square and curly: (a [b] {c}).", ()),
    ("", "Complete: the quick brown fox", "jumps over the lazy dog.", ()),
    ("Choose between 'yes' and 'no'.", "Should I back up my data?", "yes", ()),
    ("", "Summarize the plot of Hamlet in two sentences.", "Prince Hamlet seeks revenge on his uncle for murdering his father. His hesitation leads to tragedy for nearly everyone.", ()),
    ("", "Respond with a greeting.", "Hi there!", ()),
    ("Answer in 3 words.", "How are you?", "Doing well, thanks.", ()),
    ("", "Which is larger, 9.11 or 9.9?", "9.9 is larger.", ()),
    ("Output valid JSON.", "A point at x=1, y=2.", '{"x": 1, "y": 2}', ()),
    ("", "Give one word for happy.", "Joyful.", ()),
]

BROKEN: list[Case] = [
    ("Respond in JSON.", "Extract the city from: 'I live in Oslo'.", "The city is Oslo.", (2001,)),
    ("Return only valid JSON.", "List three primes.", "Sure! Here are three primes: 2, 3 and 5.", (2001,)),
    ("Answer with JSON only.", "Give the user's name and age.", '{"name": "Alice", "age": 31', (2001, 3001)),
    ("Output JSON.", "Two points.", '[{"x": 1}, {"x": 2}', (2001, 3001)),
    ("Answer yes or no.", "Is water wet?", "Water is a liquid that makes things wet when it touches them.", (2002,)),
    ("", "Is 17 prime? Reply yes/no.", "Seventeen has exactly two divisors.", (2002,)),
    ("Classify the sentiment as one of: positive, negative, neutral.", "The food was fine.", "mixed", (2003,)),
    ("Reply with exactly one of 'billing', 'technical', 'other'.", "My invoice is wrong.", "It sounds like an invoicing question.", (2003,)),
    ("Return JSON with keys \"name\" and \"age\".", "Alice is 31.", '{"name": "Alice"}', (3002,)),
    ("Output JSON like {\"sentiment\": \"positive\", \"confidence\": 0.9}.", "I love it!", '{"sentiment": "positive"}', (3002,)),
    ("Summarize in 10 words or fewer.", "Long article about tides.",
     "Tides are the regular rise and fall of sea levels caused by the gravitational pull of the Moon and the Sun on the oceans.", (3003,)),
    ("Answer in at most 5 words.", "Why is the sky blue?", "Because molecules in the air scatter shorter blue wavelengths of sunlight more strongly.", (3003,)),
]


def record(case: Case, **overrides: Any) -> dict[str, Any]:
    """The record an instrumented call would make of ``case`` (ordinary tokens, latency and cost)."""
    system, user, output, _ = case
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    base = {
        "project": "corpus", "operation": "chat", "model": "gpt-4o-mini", "status": "success",
        "input": {"messages": messages}, "output": {"role": "assistant", "content": output, "finish_reason": "stop"},
        "input_tokens": 40, "output_tokens": 20, "latency_ms": 800, "cost": 0.00002,
    }  # fmt: skip
    return {**base, **overrides}
