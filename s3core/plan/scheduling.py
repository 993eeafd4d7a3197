"""Where jobs go first and how many cores they hold, as plain functions of numbers.

The DAG's long chain (naive-RAG cache -> PPO -> each trained searcher's inference -> its evaluation) starts first
whenever jobs wait for cores or GPUs; everything else fits beside it. On one machine the jobs off the chain hold at
most all cores but one, and jobs that only wait on the run's servers hold no core at all (the local profile's
`server_clients` caps how many run at once)."""

from __future__ import annotations

from collections.abc import Collection

#: Snakemake priority of the long chain's jobs (others: 0).
CHAIN_PRIORITY = 10


def priority(on_chain: bool) -> int:
    return CHAIN_PRIORITY if on_chain else 0


def nice(on_chain: bool, background_nice: int) -> int:
    """How much a job lowers its CPU priority and its requests' priority at the vLLM servers: none on the chain."""
    return 0 if on_chain else background_nice


def job_cores(loads: Collection[str], served: Collection[str] | None, threads: int, floor: int = 0) -> int:
    """Cores a job that loads `loads` holds: `floor` when the run's servers (`served`; None: the run has none)
    serve every one of them (the job only waits on those servers: none on one machine, one as a cluster job),
    else `threads`."""
    return floor if served is not None and set(loads) <= set(served) else threads


def background_cores(cores: int | None, nodes: int | None) -> int | None:
    """The cores jobs off the chain may hold at once on one machine of `cores` cores: all but one (at least one).
    None on a cluster (`nodes` set) or without a core count."""
    if nodes is not None or not cores:
        return None
    return max(1, cores - 1)


def off_chain_slots(on_chain: bool, threads: int, background: int | None) -> dict[str, int]:
    """A job's share of the local resources that keep the chain in front: off the chain, a job that holds no core
    takes one `server_clients` slot and one that holds cores counts them in `background_cores`; on the chain it
    takes neither."""
    return {
        "server_clients": int(threads == 0 and not on_chain),
        "background_cores": min(threads, background) if not on_chain and background is not None else 0,
    }
