"""ISO 4217 currency codes, held in the module so validation never needs the network.

The list is ISO 4217 (list one, active codes) minus XTS (testing) and XXX (no currency) and
the precious-metal and bond-market units, none of which an invoice can be paid in. When ISO
publishes a change, edit ACTIVE_CODES; the change is additive and stays inside v1.
"""

from __future__ import annotations

ACTIVE_CODES: frozenset[str] = frozenset(
    # One string keeps the table readable at a glance; split() makes it a set.
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN
    ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD
    MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP
    PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP
    SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV
    WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905
)


def is_known_currency(code: str) -> bool:
    """True when `code` is an ISO 4217 code that money can be invoiced in."""
    return code in ACTIVE_CODES
