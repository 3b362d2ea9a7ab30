"""An invoice as HTML and as PDF (fpdf2, pure Python). Amounts are KRW, VAT included; the PDF
draws with the shipped Nanum Gothic subset (``haechi.challenges.fonts``), whose Hangul is the
syllables Haechi itself draws: the invoice's Korean labels are among them, and a character the
subset lacks (an organisation's name in rare syllables) is printed as ``?`` in the PDF; the HTML
invoice has every character."""

from __future__ import annotations

import html
from datetime import timedelta, timezone
from functools import cache
from importlib import resources

from haechi.core.settings import BillingSettings
from haechi.platform.billing.models import Invoice

KST = timezone(timedelta(hours=9))
FONT = "NanumGothic.ttf"
FONT_BOLD = "NanumGothicBold.ttf"

LABELS = {
    "title": "청구서 Invoice",
    "number": "번호 No.",
    "issued": "발행일 Issued",
    "seller": "공급자 Seller",
    "buyer": "공급받는자 Buyer",
    "registration": "사업자등록번호",
    "item": "항목 Item",
    "amount": "요금 Amount (KRW)",
    "supply": "공급가 Supply value",
    "vat": "부가세 VAT (10%)",
    "total": "합계 Total (VAT incl.)",
    "status": "상태 Status",
}


def won(amount: int) -> str:
    return f"{amount:,}"


def render_html(invoice: Invoice, seller: BillingSettings) -> str:
    e = html.escape
    issued = invoice.issued_at.astimezone(KST).strftime("%Y-%m-%d")
    rows = "".join(
        f"<tr><td>{e(str(line.get('description', '')))}</td>"
        f"<td class=n>{won(int(line.get('amount', 0)))}</td></tr>"
        for line in invoice.lines
    )
    reg = (
        f"<br>{LABELS['registration']} {e(seller.seller_registration_number)}"
        if seller.seller_registration_number
        else ""
    )
    addr = f"<br>{e(seller.seller_address)}" if seller.seller_address else ""
    return f"""<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>{e(invoice.number)}</title>
<style>body{{font-family:sans-serif;max-width:48rem;margin:2rem auto}}
table{{width:100%;border-collapse:collapse}}td,th{{border-bottom:1px solid #ccc;padding:.4rem;
text-align:left}}.n{{text-align:right}}</style></head><body>
<h1>{LABELS["title"]}</h1>
<p>{LABELS["number"]}: <b>{e(invoice.number)}</b><br>{LABELS["issued"]}: {issued}<br>
{LABELS["status"]}: {e(invoice.status)}</p>
<p>{LABELS["seller"]}: {e(seller.seller_name)}{reg}{addr}<br>
{LABELS["buyer"]}: {e(invoice.org_name)}</p>
<table><thead><tr><th>{LABELS["item"]}</th><th class=n>{LABELS["amount"]}</th></tr></thead>
<tbody>{rows}</tbody><tfoot>
<tr><td>{LABELS["supply"]}</td><td class=n>{won(invoice.supply)}</td></tr>
<tr><td>{LABELS["vat"]}</td><td class=n>{won(invoice.vat)}</td></tr>
<tr><th>{LABELS["total"]}</th><th class=n>{won(invoice.total)}</th></tr>
</tfoot></table></body></html>
"""


@cache
def _font_paths() -> tuple[str, str, frozenset[int]]:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped, unused-ignore]

    folder = resources.files("haechi.challenges.fonts")
    regular, bold = str(folder / FONT), str(folder / FONT_BOLD)
    return regular, bold, frozenset(TTFont(regular).getBestCmap())


def drawable(text: str) -> str:
    """``text`` with the characters the PDF font lacks replaced by ``?``."""
    _, _, cmap = _font_paths()
    return "".join(c if ord(c) in cmap or c in "\n" else "?" for c in text)


def render_pdf(invoice: Invoice, seller: BillingSettings) -> bytes:
    from fpdf import FPDF

    regular, bold, _ = _font_paths()
    pdf = FPDF(format="A4")
    pdf.set_title(invoice.number)
    pdf.set_creator("Haechi")
    pdf.add_font("Nanum", "", regular)
    pdf.add_font("Nanum", "B", bold)
    pdf.add_page()
    pdf.set_font("Nanum", "B", 18)
    pdf.cell(0, 12, LABELS["title"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Nanum", "", 10)
    issued = invoice.issued_at.astimezone(KST).strftime("%Y-%m-%d")
    head = [
        (LABELS["number"], invoice.number),
        (LABELS["issued"], issued),
        (LABELS["status"], invoice.status),
        (LABELS["seller"], seller.seller_name),
    ]
    if seller.seller_registration_number:
        head.append((LABELS["registration"], seller.seller_registration_number))
    if seller.seller_address:
        head.append(("", seller.seller_address))
    head.append((LABELS["buyer"], invoice.org_name))
    for label, value in head:
        pdf.cell(50, 7, label)
        pdf.cell(0, 7, drawable(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Nanum", "B", 10)
    pdf.cell(130, 8, LABELS["item"], border="B")
    pdf.cell(0, 8, LABELS["amount"], border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Nanum", "", 10)
    for line in invoice.lines:
        pdf.cell(130, 8, drawable(str(line.get("description", ""))[:90]))
        pdf.cell(0, 8, won(int(line.get("amount", 0))), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for label, amount, style in (
        (LABELS["supply"], invoice.supply, ""),
        (LABELS["vat"], invoice.vat, ""),
        (LABELS["total"], invoice.total, "B"),
    ):
        pdf.set_font("Nanum", style, 10)
        pdf.cell(130, 8, label, border="T")
        pdf.cell(0, 8, won(amount), border="T", align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
