"""Binance error codes and messages as the local venue answers them.

A request that fails raises :class:`ApiError`; the REST layer turns it into the HTTP status
and ``{"code", "msg"}`` body, the WS API layer into ``{"status", "error"}``.
"""

from __future__ import annotations

from typing import Any, Final

UNKNOWN: Final = -1000
DISCONNECTED: Final = -1001
TOO_MANY_REQUESTS: Final = -1003
TIMEOUT: Final = -1007
INVALID_MESSAGE: Final = -1013
TOO_MANY_ORDERS: Final = -1015
INVALID_TIMESTAMP: Final = -1021
INVALID_SIGNATURE: Final = -1022
ILLEGAL_CHARS: Final = -1100
DUPLICATE_PARAM: Final = -1101
MANDATORY_PARAM: Final = -1102
PARAM_NOT_REQUIRED: Final = -1106
PRECISION: Final = -1111
INVALID_TIF: Final = -1115
INVALID_ORDER_TYPE: Final = -1116
INVALID_SIDE: Final = -1117
BAD_SYMBOL: Final = -1121
INVALID_LISTEN_KEY: Final = -1125
BAD_RECV_WINDOW: Final = -1131
NEW_ORDER_REJECTED: Final = -2010
CANCEL_REJECTED: Final = -2011
NO_SUCH_ORDER: Final = -2013
BAD_API_KEY_FMT: Final = -2014
REJECTED_MBX_KEY: Final = -2015
MARGIN_INSUFFICIENT: Final = -2019
CANCEL_REPLACE_PARTIAL: Final = -2021
CANCEL_REPLACE_FAILED: Final = -2022
REDUCE_ONLY_REJECT: Final = -2022
PRICE_TICK: Final = -4014
DUPLICATE_CLIENT_ID: Final = -4116
MIN_NOTIONAL: Final = -4164
FOK_REJECT: Final = -5021
GTX_REJECT: Final = -5022

MSG_INSUFFICIENT: Final = "Account has insufficient balance for requested action."
MSG_WOULD_TAKE: Final = "Order would immediately match and take."
MSG_DUPLICATE: Final = "Duplicate order sent."
MSG_UNKNOWN_ORDER: Final = "Unknown order sent."
MSG_NO_ORDER: Final = "Order does not exist."
MSG_BAD_SIGNATURE: Final = "Signature for this request is not valid."
MSG_BAD_KEY: Final = "Invalid API-key, IP, or permissions for action."
MSG_BAD_KEY_FMT: Final = "API-key format invalid."
MSG_OUTSIDE_WINDOW: Final = "Timestamp for this request is outside of the recvWindow."
MSG_AHEAD: Final = "Timestamp for this request was 1000ms ahead of the server's time."
MSG_BAD_SYMBOL: Final = "Invalid symbol."
MSG_TIMEOUT: Final = (
    "Timeout waiting for response from backend server. Send status unknown; execution status "
    "unknown."
)
MSG_GTX: Final = (
    "Due to the order could not be executed as maker, the Post Only order will be rejected. "
    "The order will not be recorded in the order history"
)
MSG_FOK: Final = (
    "Due to the order could not be filled immediately, the FOK order has been rejected. The "
    "order will not be recorded in the order history"
)


class ApiError(Exception):
    """A Binance error answer.

    Parameters
    ----------
    code : int
        Binance error code (negative).
    msg : str
        Binance's message text.
    status : int
        HTTP status (400 unless said otherwise).
    headers : dict[str, str] | None
        Extra response headers (``Retry-After``).
    data : dict | None
        Extra error data (WS API ``retryAfter``, cancel-replace halves).
    """

    def __init__(
        self,
        code: int,
        msg: str,
        status: int = 400,
        headers: dict[str, str] | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}
        self.data = data

    def body(self) -> dict[str, Any]:
        """Return the JSON body ``{"code", "msg"}`` (plus ``data`` when present)."""
        out: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            out["data"] = self.data
        return out


def missing(name: str) -> ApiError:
    """Return the -1102 error for a mandatory parameter that was not sent."""
    return ApiError(
        MANDATORY_PARAM,
        f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
    )


def illegal(name: str, legal: str) -> ApiError:
    """Return the -1100 error for a parameter with characters outside its legal range."""
    return ApiError(
        ILLEGAL_CHARS, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'."
    )


def not_required(name: str) -> ApiError:
    """Return the -1106 error for a parameter sent where it does not apply."""
    return ApiError(PARAM_NOT_REQUIRED, f"Parameter '{name}' sent when not required.")


def filter_failure(name: str) -> ApiError:
    """Return the -1013 error for a failed symbol filter (``PRICE_FILTER``, ``LOT_SIZE``...)."""
    return ApiError(INVALID_MESSAGE, f"Filter failure: {name}")
