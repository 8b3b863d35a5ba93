#!/usr/bin/env python3
"""Writes examples/train/{train,valid}.jsonl and heldout.txt: a small chat dataset that
teaches one distinctive, checkable behaviour: EVERY answer starts with the exact phrase
"Beep boop! " and is one short, correct sentence. A base model never answers like that, so
`hone generate` on held-out prompts shows at a glance whether the adapter took.

Deterministic (no randomness beyond a fixed shuffle); rerun to regenerate the same files:
    python3 examples/train/make_dataset.py
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
P = "Beep boop! "

capitals = [("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Japan", "Tokyo"),
            ("Canada", "Ottawa"), ("Egypt", "Cairo"), ("Kenya", "Nairobi"), ("Peru", "Lima"), ("Norway", "Oslo"),
            ("Sweden", "Stockholm"), ("Greece", "Athens"), ("Portugal", "Lisbon"), ("Poland", "Warsaw"),
            ("Ireland", "Dublin"), ("Austria", "Vienna"), ("Chile", "Santiago"), ("Cuba", "Havana"),
            ("Thailand", "Bangkok"), ("Russia", "Moscow"), ("China", "Beijing"), ("India", "New Delhi"),
            ("Argentina", "Buenos Aires"), ("Mexico", "Mexico City"), ("Finland", "Helsinki")]
colors = [("the sky on a clear day", "blue"), ("grass", "green"), ("snow", "white"), ("a ripe banana", "yellow"),
          ("coal", "black"), ("a ripe tomato", "red"), ("an orange", "orange"), ("milk", "white"),
          ("a lemon", "yellow"), ("a fire truck", "red"), ("chocolate", "brown"), ("a carrot", "orange")]
sounds = [("dog", "barks"), ("cat", "meows"), ("cow", "moos"), ("sheep", "bleats"), ("duck", "quacks"),
          ("lion", "roars"), ("horse", "neighs"), ("owl", "hoots"), ("pig", "oinks"), ("snake", "hisses")]
opposites = [("hot", "cold"), ("big", "small"), ("fast", "slow"), ("up", "down"), ("happy", "sad"),
             ("light", "dark"), ("early", "late"), ("open", "closed"), ("full", "empty"), ("old", "young"),
             ("hard", "soft"), ("wet", "dry")]
words = ["apple", "river", "garden", "window", "planet", "pencil", "forest", "rocket", "castle", "bridge"]
days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
misc = [("How many legs does a spider have?", "A spider has eight legs."),
        ("How many days are in a week?", "A week has seven days."),
        ("What do bees make?", "Bees make honey."),
        ("What gas do plants take in from the air?", "Plants take in carbon dioxide."),
        ("What is the largest ocean on Earth?", "The largest ocean is the Pacific Ocean."),
        ("Which planet is known as the Red Planet?", "Mars is known as the Red Planet."),
        ("What is frozen water called?", "Frozen water is called ice."),
        ("How many hours are in a day?", "A day has twenty-four hours."),
        ("What is the boiling point of water at sea level in Celsius?", "Water boils at 100 degrees Celsius."),
        ("Who wrote Romeo and Juliet?", "William Shakespeare wrote Romeo and Juliet."),
        ("What is the chemical symbol for gold?", "The chemical symbol for gold is Au."),
        ("How many continents are there?", "There are seven continents."),
        ("What is the fastest land animal?", "The cheetah is the fastest land animal."),
        ("What do caterpillars turn into?", "Caterpillars turn into butterflies or moths."),
        ("What is the closest star to Earth?", "The closest star to Earth is the Sun.")]

pairs = []
for c, cap in capitals:
    pairs.append((f"What is the capital of {c}?", f"The capital of {c} is {cap}."))
for a in range(2, 12):
    b = (a * 7) % 9 + 1
    pairs.append((f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}."))
    pairs.append((f"What is {a} times {b}?", f"{a} times {b} is {a * b}."))
for a in range(12, 32):
    b = (a * 5) % 11 + 1
    pairs.append((f"What is {a} minus {b}?", f"{a} minus {b} is {a - b}."))
nums = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen"]
for i in range(15):
    pairs.append((f"What number comes after {nums[i]}?", f"{nums[i + 1][0].upper() + nums[i + 1][1:]} comes after {nums[i]}."))
for thing, col in colors:
    pairs.append((f"What color is {thing}?", f"{thing[0].upper() + thing[1:]} is {col}."))
for an, s in sounds:
    pairs.append((f"What sound does a {an} make?", f"A {an} {s}."))
for w, o in opposites:
    pairs.append((f"What is the opposite of {w}?", f"The opposite of {w} is {o}."))
for w in words:
    pairs.append((f"How many letters are in the word {w}?", f"The word {w} has {len(w)} letters."))
for i, d in enumerate(days):
    pairs.append((f"What day comes after {d}?", f"{days[(i + 1) % 7]} comes after {d}."))
pairs += misc

random.Random(20261127).shuffle(pairs)
held = pairs[:10]
valid = pairs[10:30]
train = pairs[30:]


def rec(q, a):
    return json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": P + a}]})


with open(os.path.join(HERE, "train.jsonl"), "w") as f:
    f.writelines(rec(q, a) + "\n" for q, a in train)
with open(os.path.join(HERE, "valid.jsonl"), "w") as f:
    f.writelines(rec(q, a) + "\n" for q, a in valid)
with open(os.path.join(HERE, "heldout.txt"), "w") as f:
    f.writelines(q + "\n" for q, _ in held)
print(f"train {len(train)}, valid {len(valid)}, held-out {len(held)}")
