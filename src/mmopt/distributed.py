"""The message-passing runtime of distributed solvers.

Agents exchange messages in synchronous rounds: everything sent during round
``r`` (with :meth:`Network.send`) is delivered at the start of round
``r + 1`` (:meth:`Network.next_round` returns each agent's inbox). The
runtime counts rounds, messages and payload size (floats: a complex number
counts 2, a bool or int 1), which a distributed solver puts in its stats
(:meth:`Network.stats`) and the table shows beside the gap.

Example::

    net = Network(range(G))
    for g in range(G):
        for h in neighbours[g]:
            net.send(g, h, message[g, h])
    inbox = net.next_round()          # inbox[h] = [(g, payload), ...]
    stats.update(net.stats())         # rounds, messages, payload_floats
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Hashable, Iterable

import numpy as np

__all__ = ["Network", "payload_floats"]


def payload_floats(payload: Any) -> int:
    """Size of a payload in floats (complex counts 2).

    Parameters
    ----------
    payload : Any
        ``None`` (0), a number (bool and int count 1, complex 2), an array
        (its size, doubled when complex), or a dict, list or tuple of these
        (summed); anything else counts the size of ``numpy.asarray(payload)``.

    Returns
    -------
    int
        The number of floats.
    """
    if payload is None:
        return 0
    if isinstance(payload, (bool, int, float, np.integer, np.floating)):
        return 1
    if isinstance(payload, (complex, np.complexfloating)):
        return 2
    if isinstance(payload, np.ndarray):
        return int(payload.size * (2 if payload.dtype.kind == "c" else 1))
    if isinstance(payload, dict):
        return sum(payload_floats(v) for v in payload.values())
    if isinstance(payload, (list, tuple)):
        return sum(payload_floats(v) for v in payload)
    return int(np.asarray(payload).size)


class Network:
    """Agents, ``send(src, dst, payload)``, synchronous rounds, and their counters.

    Parameters
    ----------
    agents : iterable of hashable
        The agents' ids.

    Attributes
    ----------
    agents : list
        The agents' ids, in the given order.
    rounds : int
        Rounds closed by :meth:`next_round`.
    messages : int
        Messages sent.
    payload : int
        Floats sent (see :func:`payload_floats`).
    """

    def __init__(self, agents: Iterable[Hashable]):
        self.agents = list(agents)
        self._known = set(self.agents)
        self._pending: dict[Hashable, list] = defaultdict(list)
        self.rounds = 0
        self.messages = 0
        self.payload = 0

    def send(self, src: Hashable, dst: Hashable, payload: Any) -> None:
        """Queue ``payload`` from ``src`` to ``dst`` for the next round.

        Parameters
        ----------
        src : hashable
            The sending agent.
        dst : hashable
            The receiving agent (not ``src``).
        payload : Any
            The message; counted by :func:`payload_floats`.

        Raises
        ------
        KeyError
            When ``src`` or ``dst`` is not an agent.
        ValueError
            When ``src == dst``.
        """
        if src not in self._known or dst not in self._known:
            raise KeyError(f"unknown agent in send({src!r}, {dst!r})")
        if src == dst:
            raise ValueError("an agent does not send to itself")
        self._pending[dst].append((src, payload))
        self.messages += 1
        self.payload += payload_floats(payload)

    def broadcast(self, src: Hashable, dsts: Iterable[Hashable], payload: Any) -> None:
        """Send the same payload to several agents (one message each).

        Parameters
        ----------
        src : hashable
            The sending agent.
        dsts : iterable of hashable
            The receiving agents.
        payload : Any
            The message.

        Raises
        ------
        KeyError
            When an agent is unknown.
        ValueError
            When ``src`` is among ``dsts``.
        """
        for d in dsts:
            self.send(src, d, payload)

    def next_round(self) -> dict[Hashable, list[tuple[Hashable, Any]]]:
        """Close the round: deliver every queued message.

        Returns
        -------
        dict
            ``{agent: [(src, payload), ...]}`` for every agent, messages in the
            order they were sent (an empty list for an agent without mail).
        """
        self.rounds += 1
        inbox = {a: self._pending.pop(a, []) for a in self.agents}
        self._pending.clear()
        return inbox

    def stats(self) -> dict[str, int]:
        """The counters, for a distributed solver's stats.

        Returns
        -------
        dict of str to int
            ``rounds``, ``messages`` and ``payload_floats``.
        """
        return {"rounds": int(self.rounds), "messages": int(self.messages), "payload_floats": int(self.payload)}
