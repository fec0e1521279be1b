"""The compiled classifier: the same verdicts as ``opennsg.engine.evaluate.decide``, from prebuilt tables.

``compile_policy(policy).decide(flow)`` answers one flow in plain Python; ``.classify(FlowColumns)`` decides
numpy columns of flows with a numba kernel (or its pure-numpy twin). ``get_compiled`` caches per version in
memory, ``store.ProgramStore`` on disk by content. Outside the engine, use ``Engine.compile``/``Engine.classifier``.
"""

from opennsg.engine.compiled.cache import clear_cache, get_compiled, policy_key
from opennsg.engine.compiled.classifier import BatchVerdicts, CompiledPolicy, compile_policy
from opennsg.engine.compiled.columns import INBOUND_CODE, LOW64, NO_PORT, OUTBOUND_CODE, FlowColumns, halves
from opennsg.engine.compiled.kernels import Backend, numba_available
from opennsg.engine.compiled.store import ProgramStore

__all__ = [
    "INBOUND_CODE",
    "LOW64",
    "NO_PORT",
    "OUTBOUND_CODE",
    "Backend",
    "BatchVerdicts",
    "CompiledPolicy",
    "FlowColumns",
    "ProgramStore",
    "clear_cache",
    "compile_policy",
    "get_compiled",
    "halves",
    "numba_available",
    "policy_key",
]
