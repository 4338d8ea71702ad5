"""The mock ERP's master data as plain constants, shared with the portal's demo seed.

The portal's ``seed-demo`` command reads ``VENDORS`` to create supplier organizations whose
tax ids and vendor numbers match what the mock ERP holds, so a demo invoice matches a vendor.
Tax ids are valid per python-stdnum (``stdnum.us.ein``, ``stdnum.eu.vat``); routing numbers and
IBANs pass their check digits. E-mail domains use the reserved ``.example`` TLD so no demo mail
can reach a real company.
"""

# One record per line reads as a table, so these lines run long.

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Kind = Literal["implants", "surgical", "pharmacy"]

NETWORK_NAME = "Great Lakes Health Partners"


@dataclass(frozen=True)
class FacilitySeed:
    code: str
    name: str
    street: str
    city: str
    region: str
    postal_code: str
    country: str = "US"


@dataclass(frozen=True)
class CostCentreSeed:
    code: str
    name: str
    facility_code: str
    kinds: tuple[Kind, ...]  # which purchases are charged here; drives the seeded POs


@dataclass(frozen=True)
class RemitTo:
    """Where the ERP pays: an ABA routing number and account (US) or a BIC and IBAN (EU)."""

    bank_name: str
    scheme: Literal["US_ABA", "IBAN"]
    bank_code: str
    account: str


@dataclass(frozen=True)
class VendorSeed:
    number: str
    name: str
    tax_id: str
    country: str
    email_domain: str
    kind: Kind
    street: str
    city: str
    region: str
    postal_code: str
    remit_to: RemitTo
    currency: str = "USD"
    active: bool = True


@dataclass(frozen=True)
class ItemSeed:
    number: str
    description: str
    kind: Kind
    uom: str
    list_price: Decimal  # in USD; EUR vendors are priced through EUR_PER_USD


EUR_PER_USD = Decimal("0.92")

# fmt: off
FACILITIES: tuple[FacilitySeed, ...] = (
    FacilitySeed("SLMC", "St. Luke's Medical Center", "11311 Shaker Blvd", "Cleveland", "OH", "44104"),
    FacilitySeed("MGH", "Mercy General Hospital", "1000 S Main St", "Akron", "OH", "44311"),
    FacilitySeed("RCH", "Riverside Children's Hospital", "2142 N Cove Blvd", "Toledo", "OH", "43606"),
)
# fmt: on

_CENTRE_KINDS: tuple[tuple[str, str, tuple[Kind, ...]], ...] = (
    ("OR", "Perioperative Services", ("surgical", "implants")),
    ("CATH", "Cardiac Catheterization Lab", ("implants",)),
    ("ORTHO", "Orthopedics and Spine", ("implants",)),
    ("PHARM", "Inpatient Pharmacy", ("pharmacy",)),
    ("CSR", "Central Sterile Reprocessing", ("surgical",)),
)

COST_CENTRES: tuple[CostCentreSeed, ...] = tuple(
    CostCentreSeed(f"{f.code}-{suffix}", f"{f.name} - {name}", f.code, kinds)
    for f in FACILITIES
    for suffix, name, kinds in _CENTRE_KINDS
)


def _us(bank: str, routing: str, account: str) -> RemitTo:
    return RemitTo(bank, "US_ABA", routing, account)


def _eu(bank: str, bic: str, iban: str) -> RemitTo:
    return RemitTo(bank, "IBAN", bic, iban)


# fmt: off
VENDORS: tuple[VendorSeed, ...] = (
    VendorSeed("V1001", "Keystone Orthopedic Implants, Inc.", "46-2530829", "US", "keystoneortho.example", "implants", "2500 E Center St", "Warsaw", "IN", "46580", _us("First Hoosier Bank", "239077969", "3795742288")),
    VendorSeed("V1002", "Meridian Spine Systems LLC", "20-8990608", "US", "meridianspine.example", "implants", "4100 Airways Blvd", "Memphis", "TN", "38116", _us("Mid-South Commerce Bank", "268984858", "3179419893")),
    VendorSeed("V1003", "Northfield Cardiac Rhythm Devices Corp.", "12-1441955", "US", "northfieldcardiac.example", "implants", "800 Marquette Ave", "Minneapolis", "MN", "55402", _us("North Star Trust", "234737806", "2796035739")),
    VendorSeed("V1004", "Summit Joint Replacement Technologies", "38-1521911", "US", "summitjoint.example", "implants", "1700 N Detroit St", "Warsaw", "IN", "46582", _us("First Hoosier Bank", "258965803", "2823296038"), active=False),
    VendorSeed("V1005", "Bluewater Maxillofacial Implants", "82-2077052", "US", "bluewatermaxfac.example", "implants", "9920 Pacific Heights Blvd", "San Diego", "CA", "92121", _us("Pacific Coast Savings", "271991265", "9855630065")),
    VendorSeed("V1006", "Halvorsen Medizintechnik GmbH", "DE752917034", "DE", "halvorsen-med.example", "implants", "Koenigstrasse 14", "Tuttlingen", "BW", "78532", _eu("Suedwest Handelsbank", "SWHBDESSXXX", "DE81851167971317136109"), currency="EUR"),
    VendorSeed("V1007", "Lumen Vascular Inc.", "82-6655194", "US", "lumenvascular.example", "implants", "3576 Unocal Pl", "Santa Rosa", "CA", "95403", _us("Pacific Coast Savings", "068429500", "5192983756")),
    VendorSeed("V1008", "Summit Surgical Supply Co.", "12-9339287", "US", "summitsurgical.example", "surgical", "4400 Easton Commons", "Columbus", "OH", "43219", _us("Buckeye National Bank", "254988732", "6538829718")),
    VendorSeed("V1009", "Prairie Medical Distribution LLC", "30-9071203", "US", "prairiemed.example", "surgical", "11000 Mill Valley Rd", "Omaha", "NE", "68154", _us("Great Plains Bank", "296437827", "7747022936")),
    VendorSeed("V1010", "Coastal Sterile Products Inc.", "74-3032085", "US", "coastalsterile.example", "surgical", "5900 Core Ave", "North Charleston", "SC", "29406", _us("Palmetto Merchants Bank", "060986957", "3744112455")),
    VendorSeed("V1011", "Granite State Surgical Instruments", "47-1634613", "US", "granitesurgical.example", "surgical", "20 Trafalgar Sq", "Nashua", "NH", "03063", _us("Granite Mutual Bank", "233181398", "4058492450")),
    VendorSeed("V1012", "Van Rijn Surgical B.V.", "NL528084148B01", "NL", "vanrijnsurgical.example", "surgical", "Schipholweg 103", "Leiden", "ZH", "2316 XC", _eu("Hollandse Handelsbank", "HHBANL2AXXX", "NL60RABO3438517928"), currency="EUR"),
    VendorSeed("V1013", "Allegheny Wound Care Supply", "82-0999941", "US", "alleghenywound.example", "surgical", "600 Grant St", "Pittsburgh", "PA", "15219", _us("Three Rivers Bank", "050950744", "6179553247")),
    VendorSeed("V1014", "Redwood Endoscopy Solutions", "88-8920785", "US", "redwoodendo.example", "surgical", "2150 River Plaza Dr", "Sacramento", "CA", "95833", _us("Pacific Coast Savings", "268489735", "8633139480"), active=False),
    VendorSeed("V1015", "Bayview Pharmaceutical Distributors, Inc.", "56-9824097", "US", "bayviewpharma.example", "pharmacy", "1 Kaiser Plaza", "Oakland", "CA", "94612", _us("Bay Area Commerce Bank", "316652715", "6847951704")),
    VendorSeed("V1016", "Heartland Specialty Pharmacy Supply", "38-3015985", "US", "heartlandrx.example", "pharmacy", "2345 Grand Blvd", "Kansas City", "MO", "64108", _us("Heartland Federal Bank", "026243605", "4349342752")),
    VendorSeed("V1017", "Cumberland Generics LLC", "20-9637230", "US", "cumberlandgenerics.example", "pharmacy", "501 Commerce St", "Nashville", "TN", "37203", _us("Cumberland Valley Bank", "214749995", "7550669089")),
    VendorSeed("V1018", "Northstar Biologics Corp.", "46-7530188", "US", "northstarbio.example", "pharmacy", "75 Binney St", "Cambridge", "MA", "02142", _us("Bay State Trust", "297748094", "1314395342")),
    VendorSeed("V1019", "Shannon Pharma Ltd.", "IE0931925W", "IE", "shannonpharma.example", "pharmacy", "Eastgate Business Park", "Little Island, Cork", "CO", "T45 KH28", _eu("Munster Merchant Bank", "MUMBIE2DXXX", "IE60AIBK93115211673589"), currency="EUR"),
    VendorSeed("V1020", "Rhein-Main Pharma Logistik GmbH", "DE117777412", "DE", "rheinmainpharma.example", "pharmacy", "Hanauer Landstrasse 220", "Frankfurt am Main", "HE", "60314", _eu("Suedwest Handelsbank", "SWHBDEFFXXX", "DE30898844124743826555"), currency="EUR"),
)

ITEMS: tuple[ItemSeed, ...] = (
    ItemSeed("IM-10001", "Total knee femoral component, cemented, size 5", "implants", "EA", Decimal("3450.00")),
    ItemSeed("IM-10002", "Tibial baseplate, titanium, size 4", "implants", "EA", Decimal("2100.00")),
    ItemSeed("IM-10003", "Tibial insert, highly cross-linked poly, 10 mm", "implants", "EA", Decimal("850.00")),
    ItemSeed("IM-10004", "Acetabular shell, porous coated, 54 mm", "implants", "EA", Decimal("1900.00")),
    ItemSeed("IM-10005", "Femoral hip stem, cementless, size 12", "implants", "EA", Decimal("2600.00")),
    ItemSeed("IM-10006", "Ceramic femoral head, 36 mm", "implants", "EA", Decimal("1250.00")),
    ItemSeed("IM-10007", "Pedicle screw, polyaxial, 6.5 x 45 mm", "implants", "EA", Decimal("420.00")),
    ItemSeed("IM-10008", "Spinal rod, titanium, 5.5 x 480 mm", "implants", "EA", Decimal("310.00")),
    ItemSeed("IM-10009", "Lumbar interbody cage, PEEK, 10 mm", "implants", "EA", Decimal("1850.00")),
    ItemSeed("IM-10010", "Dual-chamber pacemaker, MRI conditional", "implants", "EA", Decimal("6200.00")),
    ItemSeed("IM-10011", "Drug-eluting coronary stent, 3.0 x 18 mm", "implants", "EA", Decimal("1350.00")),
    ItemSeed("IM-10012", "Locking compression plate, 3.5 mm, 8 hole", "implants", "EA", Decimal("540.00")),
    ItemSeed("IM-10013", "Cortical screw, self-tapping, 3.5 x 24 mm", "implants", "EA", Decimal("45.00")),
    ItemSeed("SS-20001", "Sterile surgical gloves, latex-free, size 7 (50 pairs)", "surgical", "BX", Decimal("48.50")),
    ItemSeed("SS-20002", "Nitrile exam gloves, medium (100)", "surgical", "BX", Decimal("9.75")),
    ItemSeed("SS-20003", "Surgical gown, AAMI level 3, large (30)", "surgical", "CS", Decimal("162.00")),
    ItemSeed("SS-20004", "Absorbable suture, polyglactin 910, 3-0 (36)", "surgical", "BX", Decimal("118.00")),
    ItemSeed("SS-20005", "Skin stapler, 35 wide staples", "surgical", "EA", Decimal("18.90")),
    ItemSeed("SS-20006", "Laparoscopic trocar, bladeless, 12 mm (6)", "surgical", "BX", Decimal("210.00")),
    ItemSeed("SS-20007", "Electrosurgical pencil with holster (50)", "surgical", "CS", Decimal("142.50")),
    ItemSeed("SS-20008", "Universal sterile drape pack (12)", "surgical", "CS", Decimal("96.00")),
    ItemSeed("SS-20009", "Silicone foam dressing, 4 x 4 in (10)", "surgical", "BX", Decimal("38.40")),
    ItemSeed("SS-20010", "Sharps container, 8 quart (20)", "surgical", "CS", Decimal("74.00")),
    ItemSeed("SS-20011", "Sterilization wrap, 36 x 36 in (100)", "surgical", "CS", Decimal("89.00")),
    ItemSeed("PH-30001", "Cefazolin for injection, 1 g vial (25)", "pharmacy", "BX", Decimal("52.75")),
    ItemSeed("PH-30002", "Heparin sodium, 5,000 units/mL, 1 mL vial (25)", "pharmacy", "BX", Decimal("36.10")),
    ItemSeed("PH-30003", "Propofol injectable emulsion, 10 mg/mL, 20 mL (10)", "pharmacy", "BX", Decimal("44.80")),
    ItemSeed("PH-30004", "Ondansetron injection, 4 mg/2 mL (25)", "pharmacy", "BX", Decimal("8.95")),
    ItemSeed("PH-30005", "Vancomycin for injection, 1 g vial (10)", "pharmacy", "BX", Decimal("41.20")),
    ItemSeed("PH-30006", "Enoxaparin sodium, 40 mg/0.4 mL syringe (10)", "pharmacy", "BX", Decimal("78.30")),
    ItemSeed("PH-30007", "Insulin regular human, 100 units/mL, 10 mL vial", "pharmacy", "EA", Decimal("24.60")),
    ItemSeed("PH-30008", "Sodium chloride 0.9%, 1000 mL bag (12)", "pharmacy", "CS", Decimal("27.84")),
    ItemSeed("PH-30009", "Lidocaine HCl 1%, 20 mL vial (25)", "pharmacy", "BX", Decimal("31.50")),
    ItemSeed("PH-30010", "Adalimumab, 40 mg/0.4 mL prefilled pen", "pharmacy", "EA", Decimal("2985.00")),
    ItemSeed("PH-30011", "Pembrolizumab, 100 mg/4 mL vial", "pharmacy", "EA", Decimal("5120.00")),
)
# fmt: on
