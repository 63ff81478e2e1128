"""CloudWatch metrics over the three protocols clients speak: awsJson1_0, query and rpc-v2-cbor.

``operations`` is protocol-neutral; ``json10``, ``query`` (+ ``query_xml``) and
``cbor`` are one wire format each; ``errors`` is the one error table;
``service`` is the HTTP edge the app routes to.
"""

from .operations import OPERATION_NAMES, CloudWatchOperations
from .service import CloudWatchService

__all__ = ["CloudWatchService", "CloudWatchOperations", "OPERATION_NAMES"]
