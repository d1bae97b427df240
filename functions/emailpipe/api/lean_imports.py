"""Import powertools' HTTP resolver without the two package `__init__` files that import everything else.

`aws_lambda_powertools.event_handler/__init__.py` imports every resolver (AppSync, Bedrock, VPC Lattice, the
asyncio-based ones) and `utilities/data_classes/__init__.py` every event class of every AWS service; the API needs
one resolver and one event class. Both packages are registered here as lazy packages: a name that `from package
import name` asks for is taken from the submodule that defines it (a short table), and any other name runs the real
`__init__` first, so behaviour is unchanged for code that relies on the full package. About a third of the
powertools import time of the API function's cold start (measured in the report of `benchmarks/bench_coldstart.py`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

_EXPORTS: dict[str, dict[str, str]] = {
    "aws_lambda_powertools.event_handler": {
        name: "api_gateway"
        for name in (
            "ALBResolver",
            "APIGatewayHttpResolver",
            "ApiGatewayResolver",
            "APIGatewayRestResolver",
            "CORSConfig",
            "Response",
        )
    }
    | {"content_types": "content_types"},
    "aws_lambda_powertools.utilities.data_classes": {
        "ALBEvent": "alb_event",
        "APIGatewayProxyEvent": "api_gateway_proxy_event",
        "APIGatewayProxyEventV2": "api_gateway_proxy_event",
        "BedrockAgentEvent": "bedrock_agent_event",
        "LambdaFunctionUrlEvent": "lambda_function_url_event",
        "VPCLatticeEvent": "vpc_lattice",
        "VPCLatticeEventV2": "vpc_lattice",
    },
}


def _lazy_package(name: str, exports: dict[str, str]) -> None:
    if name in sys.modules:
        return  # imported already (by other code in this process): nothing to save
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)
    state = {"initialised": False}

    def __getattr__(attribute: str) -> Any:
        submodule = exports.get(attribute)
        if submodule is not None and not state["initialised"]:
            found = importlib.import_module(f"{name}.{submodule}")
            value = found if submodule == attribute else getattr(found, attribute)
        else:
            if state["initialised"]:
                raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
            state["initialised"] = True
            spec.loader.exec_module(module)  # type: ignore[union-attr]  # the real __init__, once
            value = module.__dict__.get(attribute)
            if value is None:
                raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        setattr(module, attribute, value)
        return value

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)


def install() -> None:
    """Register the lazy packages (before anything imports them)."""
    for name, exports in _EXPORTS.items():
        _lazy_package(name, exports)


def is_lean(name: str) -> bool:
    """Whether `name` is still a lazy package whose real __init__ has not run."""
    module: ModuleType | None = sys.modules.get(name)
    return module is not None and "__getattr__" in module.__dict__ and "__all__" not in module.__dict__
