"""Text from a small stochastic grammar whose entropy rate per character is known exactly.

Sentences follow the template  DET ADJ NOUN VERB DET NOUN END  ("the big cat sees a fish.")
with each slot's word drawn independently. Words within a slot never prefix one another, so
the grammar compiles into a character-level automaton in which a state and the next character
determine the next state (a unifilar source: a trie per slot). For such a source the entropy
rate is exact (Cover & Thomas, "Elements of Information Theory", theorem 4.2.4):

    H = sum_s pi(s) H(next character | s)       nats per character,

with pi the stationary distribution of the state chain. A character model's test NLL can
therefore be compared with the best possible value, and ``log_prob`` scores any text under the
source itself: a model's samples are accepted or rejected by the automaton, and accepted ones
have their true log-probability.
"""

from __future__ import annotations

import numpy as np

SLOTS: list[dict[str, float]] = [
    {"the": 0.6, "a": 0.4},
    {" ": 1.0},
    {"big": 0.4, "small": 0.3, "red": 0.2, "old": 0.1},
    {" ": 1.0},
    {"cat": 0.3, "dog": 0.3, "bird": 0.2, "fish": 0.1, "mouse": 0.1},
    {" ": 1.0},
    {"sees": 0.3, "likes": 0.25, "chases": 0.2, "eats": 0.15, "finds": 0.1},
    {" ": 1.0},
    {"the": 0.5, "a": 0.5},
    {" ": 1.0},
    {"cat": 0.2, "dog": 0.2, "bird": 0.2, "fish": 0.2, "mouse": 0.2},
    {". ": 0.8, "! ": 0.2},
]


def _automaton() -> tuple[list[dict[str, tuple[float, int]]], int]:
    """States and their transitions {char: (probability, next state)}; the start state."""
    states: list[dict[str, tuple[float, int]]] = []
    slot_roots: list[int] = []

    def new_state() -> int:
        states.append({})
        return len(states) - 1

    for _ in SLOTS:
        slot_roots.append(new_state())
    for slot, words in enumerate(SLOTS):
        next_root = slot_roots[(slot + 1) % len(SLOTS)]
        _grow(states, slot_roots[slot], words, 0, next_root, new_state)
    return states, slot_roots[0]


def _grow(states, state, words, depth, next_root, new_state) -> None:
    """Branch on the character at ``depth`` of the words still possible in this state."""
    total = sum(words.values())
    by_char: dict[str, dict[str, float]] = {}
    for word, p in words.items():
        by_char.setdefault(word[depth], {})[word] = p
    for char, group in by_char.items():
        finished = [w for w in group if len(w) == depth + 1]
        if finished and len(group) > 1:
            raise ValueError(f"grammar: {finished[0]!r} is a prefix of another word in its slot")
        target = next_root if finished else new_state()
        states[state][char] = (sum(group.values()) / total, target)
        if not finished:
            _grow(states, target, group, depth + 1, next_root, new_state)


STATES, START = _automaton()
VOCAB = sorted({char for state in STATES for char in state})


def sample_text(n_chars: int, rng: np.random.Generator) -> str:
    """A run of the automaton from the start of a sentence."""
    state, out = START, []
    for _ in range(n_chars):
        chars = list(STATES[state])
        probs = [STATES[state][c][0] for c in chars]
        char = chars[rng.choice(len(chars), p=probs)]
        out.append(char)
        state = STATES[state][char][1]
    return "".join(out)


def _chain() -> tuple[np.ndarray, np.ndarray]:
    """The state chain's transition matrix P and each state's next-character entropy H."""
    n = len(STATES)
    P = np.zeros((n, n))
    H = np.zeros(n)
    for s, transitions in enumerate(STATES):
        for p, target in transitions.values():
            P[s, target] += p
            H[s] -= p * np.log(p)
    return P, H


def stationary() -> np.ndarray:
    """The stationary distribution of the state chain: pi P = pi, sum pi = 1."""
    P, _ = _chain()
    n = len(P)
    A = np.vstack([P.T - np.eye(n), np.ones(n)])
    b = np.append(np.zeros(n), 1.0)
    return np.linalg.lstsq(A, b, rcond=None)[0]


def entropy_rate() -> float:
    """Exact entropy rate in nats per character (see the module docstring)."""
    return float(stationary() @ _chain()[1])


def log_prob(texts: list[str] | str) -> np.ndarray:
    """log q(text) in nats under the source read from its stationary state distribution (a
    window cut from a long run starts there), per text, (n,); -inf for a text the automaton
    rejects. Unifilar: from each start state a text has at most one path, so

        q(text) = sum_s pi(s) prod_i q(c_i | state_i(s)).
    """
    texts = [texts] if isinstance(texts, str) else list(texts)
    n_states = len(STATES)
    start = np.log(np.maximum(stationary(), 1e-300))
    out = np.empty(len(texts))
    for row, text in enumerate(texts):
        logp = start.copy()
        state = np.arange(n_states)
        for char in text:
            alive = np.isfinite(logp)
            for s in np.flatnonzero(alive):
                step = STATES[state[s]].get(char)
                if step is None:
                    logp[s] = -np.inf
                else:
                    logp[s] += np.log(step[0])
                    state[s] = step[1]
        top = logp.max()
        out[row] = top if not np.isfinite(top) else top + np.log(np.exp(logp - top).sum())
    return out
