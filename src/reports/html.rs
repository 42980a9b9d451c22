//! The report as one self-contained, printable HTML page in Dutch: inline CSS and SVG charts,
//! no scripts, no external assets.

use std::fmt::Write;

use super::board::{Side, SegmentRow};
use super::monthly::{Cell, MonthlyReport};

const MONTHS_NL: [&str; 12] =
    ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"];

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// "1234567" → "1.234.567": digits grouped by three with dots, as a Dutch reader writes them.
fn grouped(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// "1234567.50" → "€ 1.234.567,50": amounts as a Dutch reader writes them.
fn euro(amount: &str) -> String {
    let (sign, rest) = amount.strip_prefix('-').map_or(("", amount), |r| ("-", r));
    let (whole, cents) = rest.split_once('.').unwrap_or((rest, "00"));
    format!("{sign}€\u{a0}{},{cents}", grouped(whole))
}

/// An amount for a key-figure card: from € 100.000 on in whole euros (rounded half up), as a
/// reader takes in a large sum; smaller ones to the cent.
fn euro_round(amount: &str) -> String {
    let cents = cents_of(amount);
    if cents.abs() < 10_000_000 {
        return euro(amount);
    }
    let euros = (cents.abs() + 50) / 100;
    format!("{}€\u{a0}{}", if cents < 0 { "-" } else { "" }, grouped(&euros.to_string()))
}

/// 12345 → "12.345": counts with Dutch thousands separators.
fn count_nl(n: i64) -> String {
    format!("{}{}", if n < 0 { "-" } else { "" }, grouped(&n.unsigned_abs().to_string()))
}

/// A count the board may not see (null) as a dash.
fn count_or_dash(n: Option<i64>) -> String {
    n.map_or_else(|| "–".to_string(), count_nl)
}

fn euro_or_dash(amount: Option<&str>) -> String {
    amount.map_or_else(|| "–".to_string(), euro)
}

fn pct_nl(pct: Option<&String>) -> String {
    pct.map(|p| format!("{}\u{a0}%", p.replace('.', ","))).unwrap_or_else(|| "–".into())
}

fn month_nl(month: &str) -> String {
    let (year, m) = month.split_once('-').unwrap_or((month, "01"));
    let index = m.parse::<usize>().unwrap_or(1).clamp(1, 12) - 1;
    format!("{} {year}", MONTHS_NL[index])
}

fn cents_of(amount: &str) -> i64 {
    let negative = amount.starts_with('-');
    let digits: String = amount.chars().filter(char::is_ascii_digit).collect();
    let value = digits.parse::<i64>().unwrap_or(0);
    if negative { -value } else { value }
}

fn tenths_of(pct: Option<&String>) -> i64 {
    pct.map(|p| p.chars().filter(char::is_ascii_digit).collect::<String>().parse::<i64>().unwrap_or(0)).unwrap_or(0)
}

const STYLE: &str = r#"
@page { size: A4; margin: 16mm 14mm; }
* { box-sizing: border-box; }
body { font-family: "Helvetica Neue", Arial, sans-serif; color: #1d2733; margin: 0 auto; max-width: 182mm; font-size: 10.5pt; line-height: 1.4; }
h1 { font-size: 19pt; margin: 0 0 2mm; color: #0b3d5c; }
h2 { font-size: 13pt; margin: 7mm 0 2mm; color: #0b3d5c; border-bottom: 1.5px solid #0b3d5c; padding-bottom: 1mm; }
p.sub { margin: 0 0 4mm; color: #52606d; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 3mm; }
.card { border: 1px solid #cbd5e0; border-radius: 2mm; padding: 2.5mm 3mm; break-inside: avoid; }
.card .k { font-size: 8.5pt; color: #52606d; text-transform: uppercase; letter-spacing: .03em; }
.card .v { font-size: 14pt; font-weight: bold; margin-top: 1mm; }
table { width: 100%; border-collapse: collapse; margin: 2mm 0; break-inside: avoid; font-size: 9.5pt; }
th, td { text-align: left; padding: 1.2mm 2mm; border-bottom: 1px solid #e2e8f0; }
th { background: #eef3f8; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #7b8794; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 5mm; }
.chart { break-inside: avoid; }
.note { font-size: 8.5pt; color: #52606d; }
p.headline { font-size: 12pt; font-weight: 600; margin: 2mm 0 1mm; }
h2 { break-after: avoid; page-break-after: avoid; }
footer { margin-top: 8mm; font-size: 8pt; color: #7b8794; }
footer .hash { word-break: break-all; }
"#;

pub fn render(report: &MonthlyReport, fund_name: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"nl\"><head><meta charset=\"utf-8\"><title>Maandrapportage {fund} – {month}</title><style>{STYLE}</style></head><body>",
        fund = escape(fund_name),
        month = month_nl(&report.month)
    );
    let _ = write!(
        h,
        "<h1>Maandrapportage persoonlijk opleidingsbudget</h1><p class=\"sub\">{} · {} · alle bedragen in euro{}</p>",
        escape(fund_name),
        month_nl(&report.month),
        if report.provisional { " · <b>voorlopig</b>: de maand is nog niet om" } else { "" }
    );
    let _ = write!(h, "<p class=\"headline\">{}</p><p class=\"note\">{}</p>", escape(&report.headline), escape(&report.caveat));
    key_figures(&mut h, report);
    comparison(&mut h, report);
    guidance(&mut h, report);
    segments(&mut h, report);
    actions(&mut h, report);
    let _ = write!(h, "<h2>Benutting per opleidingsniveau en leeftijd</h2><div class=\"grid2\">");
    bars(&mut h, "Opleidingsniveau", &report.breakdowns.education_level);
    bars(&mut h, "Leeftijd", &report.breakdowns.age_band);
    h.push_str("</div>");
    trend(&mut h, report);
    let _ = write!(h, "<h2>Uitsplitsingen (jaar tot en met {})</h2>", month_nl(&report.month));
    table(&mut h, "Regeling", &report.breakdowns.scheme);
    table(&mut h, "Sector", &report.breakdowns.sector);
    table(&mut h, "Werkgever", &largest(&report.breakdowns.employer, MAX_EMPLOYER_ROWS));
    if report.breakdowns.employer.len() > MAX_EMPLOYER_ROWS {
        let _ = write!(
            h,
            "<p class=\"note\">De {MAX_EMPLOYER_ROWS} werkgevers met de meeste werknemers met budget; alle {} staan in de CSV-uitvoer.</p>",
            report.breakdowns.employer.len()
        );
    }
    signals(&mut h, report);
    providers(&mut h, report);
    let _ = write!(
        h,
        "<footer>{}Vingerafdruk van het grootboek aan het eind van {} (24.00 uur Amsterdamse tijd): <b class=\"hash\">{}</b> ({} budgetrekeningen). {}</footer></body></html>",
        if report.small_cells_suppressed {
            "Cellen met minder dan 5 werknemers zijn afgeschermd (–), en waar nodig een tweede cel, zodat ze niet uit totalen af te leiden zijn. "
        } else {
            ""
        },
        month_nl(&report.month),
        escape(&report.digest.value),
        count_nl(report.digest.accounts as i64),
        escape(&format!(
            "{} boeking(en) in deze maand hebben een eerdere ingangsdatum; ze tellen mee in de maand waarin ze zijn vastgelegd.",
            report.backdated.transactions
        ))
    );
    h
}

/// Employers listed on the printed page; the CSV has them all.
pub const MAX_EMPLOYER_ROWS: usize = 25;

/// The cells with the most workers (suppressed ones last), at most `n`.
fn largest(cells: &[Cell], n: usize) -> Vec<Cell> {
    let mut sorted = cells.to_vec();
    sorted.sort_by_key(|c| std::cmp::Reverse(c.workers.unwrap_or(-1)));
    sorted.truncate(n);
    sorted
}

fn card(h: &mut String, label: &str, value: &str) {
    let _ = write!(h, "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\">{}</div></div>", escape(label), escape(value));
}

fn key_figures(h: &mut String, r: &MonthlyReport) {
    h.push_str("<h2>Kerncijfers</h2><div class=\"cards\">");
    card(h, "Toegekend (maand)", &euro_round(&r.flows.granted));
    card(h, "Besteed (maand, bruto)", &euro_round(&r.flows.spent));
    card(h, "Vervallen (maand)", &euro_round(&r.flows.expired));
    card(h, "Teruggeboekt (maand)", &euro_round(&r.flows.reversed));
    card(h, "Beschikbaar (einde maand)", &euro_round(&r.positions.available));
    card(h, "Gereserveerd (vouchers en beoordeling)", &euro_round(&r.positions.reserved));
    card(h, "Benutting dit jaar", &pct_nl(r.utilisation.utilisation_ytd_pct.as_ref()));
    card(h, "Vervalt binnen 3 maanden", &r.signals.lapsing_next_3_months.amount.as_deref().map_or_else(|| "–".to_string(), euro_round));
    card(h, "Werknemers met budget", &count_or_dash(r.workers.with_budget));
    card(h, "Besteed dit jaar (werknemers)", &count_or_dash(r.workers.spent_ytd));
    card(h, "Begeleid dit jaar", &count_or_dash(r.workers.coached_ytd));
    card(h, "Ingeschreven werknemers", &count_or_dash(r.workers.eligible));
    h.push_str("</div>");
}

fn guidance(h: &mut String, r: &MonthlyReport) {
    let g = &r.guidance;
    let n = |v: Option<i64>| v.map_or_else(|| "–".to_string(), count_nl);
    h.push_str("<h2>Begeleiding en besteding</h2>");
    h.push_str("<p class=\"note\">Werknemers met budget, dit jaar tot en met de maand: wie begeleid is (een loopbaangesprek of ander coachgesprek) en wie budget besteedde.</p>");
    h.push_str("<div class=\"grid2\"><table><tr><th></th><th class=\"n\">Wel besteed</th><th class=\"n\">Niet besteed</th></tr>");
    let _ = write!(
        h,
        "<tr><th>Begeleid</th><td class=\"n\">{}</td><td class=\"n\">{}</td></tr><tr><th>Niet begeleid</th><td class=\"n\">{}</td><td class=\"n\">{}</td></tr></table>",
        n(g.coached_and_spent),
        n(g.coached_not_spent),
        n(g.spent_not_coached),
        n(g.neither)
    );
    // Two bars: uptake with and without guidance.
    let with = tenths_of(g.uptake_with_guidance_pct.as_ref());
    let without = tenths_of(g.uptake_without_guidance_pct.as_ref());
    let bar = |value: i64| value * 220 / 1000;
    let _ = write!(
        h,
        "<svg class=\"chart\" viewBox=\"0 0 320 120\" width=\"100%\" role=\"img\" aria-label=\"Benutting met en zonder begeleiding\">\
         <text x=\"0\" y=\"14\" font-size=\"11\" fill=\"#1d2733\">Aandeel dat budget besteedde</text>\
         <text x=\"0\" y=\"48\" font-size=\"10\">met begeleiding</text><rect x=\"95\" y=\"36\" width=\"{w1}\" height=\"18\" fill=\"#0b7a75\"/>\
         <text x=\"{t1}\" y=\"50\" font-size=\"10\">{p1}</text>\
         <text x=\"0\" y=\"88\" font-size=\"10\">zonder</text><rect x=\"95\" y=\"76\" width=\"{w2}\" height=\"18\" fill=\"#9aa5b1\"/>\
         <text x=\"{t2}\" y=\"90\" font-size=\"10\">{p2}</text></svg></div>",
        w1 = bar(with),
        t1 = 100 + bar(with),
        p1 = escape(&pct_nl(g.uptake_with_guidance_pct.as_ref())),
        w2 = bar(without),
        t2 = 100 + bar(without),
        p2 = escape(&pct_nl(g.uptake_without_guidance_pct.as_ref())),
    );
}

fn bars(h: &mut String, title: &str, cells: &[Cell]) {
    let height = 24 + cells.len() as i64 * 26;
    let _ = write!(
        h,
        "<svg class=\"chart\" viewBox=\"0 0 320 {height}\" width=\"100%\" role=\"img\" aria-label=\"Benutting per {t}\"><text x=\"0\" y=\"14\" font-size=\"11\">{t}: benutting dit jaar</text>",
        t = escape(title)
    );
    // Scaled to the largest value shown (at least 10 %), so that differences are visible.
    let scale = cells.iter().map(|c| tenths_of(c.utilisation_ytd_pct.as_ref())).max().unwrap_or(0).max(100);
    for (i, c) in cells.iter().enumerate() {
        let y = 24 + i as i64 * 26;
        let width = tenths_of(c.utilisation_ytd_pct.as_ref()).min(scale) * 160 / scale;
        let value = if c.suppressed { "afgeschermd".to_string() } else { pct_nl(c.utilisation_ytd_pct.as_ref()) };
        let _ = write!(
            h,
            "<text x=\"0\" y=\"{ty}\" font-size=\"10\">{label}</text><rect x=\"95\" y=\"{y}\" width=\"{width}\" height=\"16\" fill=\"#2f6f9f\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"10\">{value}</text>",
            ty = y + 12,
            label = escape(&c.label),
            tx = 100 + width,
            value = escape(&value)
        );
    }
    h.push_str("</svg>");
}

fn trend(h: &mut String, r: &MonthlyReport) {
    h.push_str("<h2>Verloop over twaalf maanden</h2>");
    let spent: Vec<i64> = r.trend.iter().map(|p| cents_of(&p.spent)).collect();
    let granted: Vec<i64> = r.trend.iter().map(|p| cents_of(&p.granted)).collect();
    // Each line on its own scale: the January grants would flatten the spending otherwise.
    let spent_max = spent.iter().copied().max().unwrap_or(0).max(1);
    let granted_max = granted.iter().copied().max().unwrap_or(0).max(1);
    let (left, top, width, height) = (40i64, 20i64, 620i64, 160i64);
    let x = |i: usize| left + i as i64 * width / (r.trend.len().max(2) as i64 - 1);
    let line = |values: &[i64], max: i64| {
        values.iter().enumerate().map(|(i, v)| format!("{},{}", x(i), top + height - (*v).max(0) * height / max)).collect::<Vec<_>>().join(" ")
    };
    let _ = write!(
        h,
        "<svg class=\"chart\" viewBox=\"0 0 700 220\" width=\"100%\" role=\"img\" aria-label=\"Toegekend en besteed per maand\">\
         <line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#9aa5b1\"/>\
         <polyline fill=\"none\" stroke=\"#9aa5b1\" stroke-width=\"2\" stroke-dasharray=\"5 3\" points=\"{g}\"/>\
         <polyline fill=\"none\" stroke=\"#0b7a75\" stroke-width=\"2.5\" points=\"{s}\"/>\
         <text x=\"{left}\" y=\"12\" font-size=\"10\" fill=\"#0b7a75\">— besteed (netto, top {sm})</text>\
         <text x=\"400\" y=\"12\" font-size=\"10\" fill=\"#52606d\">- - toegekend (top {gm})</text>",
        b = top + height,
        r = left + width,
        g = line(&granted, granted_max),
        s = line(&spent, spent_max),
        sm = escape(&euro_round(&crate::domain::format_cents(spent_max))),
        gm = escape(&euro_round(&crate::domain::format_cents(granted_max)))
    );
    for (i, p) in r.trend.iter().enumerate() {
        let label = month_nl(&p.month);
        let short: String = label.chars().take(3).collect();
        let _ = write!(h, "<text x=\"{}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{}</text>", x(i), top + height + 16, escape(&short));
    }
    h.push_str("</svg>");
}

fn table(h: &mut String, title: &str, cells: &[Cell]) {
    let _ = write!(
        h,
        "<table><tr><th>{}</th><th class=\"n\">Werknemers</th><th class=\"n\">Besteed</th><th class=\"n\">Begeleid</th><th class=\"n\">Toegekend</th><th class=\"n\">Besteed (€)</th><th class=\"n\">Benutting</th></tr>",
        escape(title)
    );
    for c in cells {
        if c.suppressed {
            let _ = write!(h, "<tr><td>{}</td><td class=\"n muted\" colspan=\"6\">afgeschermd (minder dan 5 werknemers)</td></tr>", escape(&c.label));
            continue;
        }
        let n = |v: Option<i64>| v.map(count_nl).unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&c.label),
            n(c.workers),
            n(c.workers_spent_ytd),
            n(c.workers_coached_ytd),
            escape(&euro(c.granted_ytd.as_deref().unwrap_or("0.00"))),
            escape(&euro(c.spent_ytd.as_deref().unwrap_or("0.00"))),
            escape(&pct_nl(c.utilisation_ytd_pct.as_ref()))
        );
    }
    h.push_str("</table>");
}

fn comparison(h: &mut String, r: &MonthlyReport) {
    let c = &r.comparison;
    let cols = [&c.this_month, &c.previous_month, &c.same_month_last_year];
    h.push_str("<h2>Vergelijking</h2><table><tr><th></th>");
    for k in cols {
        let _ = write!(h, "<th class=\"n\">{}</th>", escape(&month_nl(&k.month)));
    }
    h.push_str("</tr>");
    let rows: [(&str, Vec<String>); 4] = [
        ("Toegekend", cols.iter().map(|k| euro(&k.granted)).collect()),
        ("Besteed (netto)", cols.iter().map(|k| euro(&k.spent)).collect()),
        ("Vervallen", cols.iter().map(|k| euro(&k.expired)).collect()),
        ("Werknemers met een besteding", cols.iter().map(|k| k.workers_spent.map_or_else(|| "–".to_string(), count_nl)).collect()),
    ];
    for (label, values) in rows {
        let _ = write!(h, "<tr><td>{label}</td>");
        for v in values {
            let _ = write!(h, "<td class=\"n\">{}</td>", escape(&v));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}

fn side_cells(s: &Side) -> String {
    if s.suppressed {
        return "<td class=\"n muted\" colspan=\"3\">afgeschermd</td>".to_string();
    }
    format!(
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
        count_nl(s.workers.unwrap_or(0)),
        count_nl(s.spent.unwrap_or(0)),
        escape(&pct_nl(s.uptake_pct.as_ref()))
    )
}

fn segment_table(h: &mut String, title: &str, rows: &[SegmentRow]) {
    let _ = write!(
        h,
        "<table><tr><th rowspan=\"2\">{}</th><th class=\"n\" colspan=\"3\">Met begeleiding</th><th class=\"n\" colspan=\"3\">Zonder begeleiding</th></tr>\
         <tr><th class=\"n\">Werknemers</th><th class=\"n\">Besteed</th><th class=\"n\">Benut</th><th class=\"n\">Werknemers</th><th class=\"n\">Besteed</th><th class=\"n\">Benut</th></tr>",
        escape(title)
    );
    for row in rows {
        let _ = write!(h, "<tr><td>{}</td>{}{}</tr>", escape(&row.label), side_cells(&row.with_guidance), side_cells(&row.without_guidance));
    }
    h.push_str("</table>");
}

fn segments(h: &mut String, r: &MonthlyReport) {
    let s = &r.guidance_by_segment;
    h.push_str("<h2>Begeleiding en besteding per groep</h2>");
    segment_table(h, "Opleidingsniveau", &s.education_level);
    segment_table(h, "Leeftijd", &s.age_band);
    segment_table(h, "Grootte werkgever", &s.employer_size);
    segment_table(h, "Sector", &s.sector);
    let g = &r.guided_before_first_spend;
    let text = match (g.guided_spenders, g.before_first_spend) {
        (Some(total), Some(before)) => format!(
            "Van de {} begeleide werknemers die dit jaar besteedden, had {} ({}) het eerste gesprek op of voor de dag van de eerste besteding.",
            count_nl(total),
            count_nl(before),
            pct_nl(g.pct.as_ref())
        ),
        _ => "Begeleiding vóór de eerste besteding: afgeschermd (te weinig werknemers).".to_string(),
    };
    let _ = write!(h, "<p class=\"note\">{}</p>", escape(&text));
}

fn actions(h: &mut String, r: &MonthlyReport) {
    let a = &r.actions;
    let _ = write!(
        h,
        "<h2>Actiepunten voor het fondsbureau</h2><table><tr><th>Stand aan het eind van de maand</th><th class=\"n\">Aantal</th><th class=\"n\">Bedrag</th></tr>\
         <tr><td>Declaraties die wachten op begeleiding</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\
         <tr><td>Declaraties in beoordeling</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\
         <tr><td>Vouchers die binnen 30 dagen ongebruikt verlopen</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\
         <tr><td>Goedgekeurd, nog niet betaald</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\
         <tr><td>Open bezwaren</td><td class=\"n\">{}</td><td class=\"n\"></td></tr>",
        count_or_dash(a.awaiting_guidance.count),
        escape(&euro_or_dash(a.awaiting_guidance.amount.as_deref())),
        count_or_dash(a.under_review.count),
        escape(&euro_or_dash(a.under_review.amount.as_deref())),
        count_or_dash(a.vouchers_expiring_30_days.count),
        escape(&euro_or_dash(a.vouchers_expiring_30_days.amount.as_deref())),
        count_or_dash(a.approved_unpaid.count),
        escape(&euro_or_dash(a.approved_unpaid.amount.as_deref())),
        count_or_dash(a.objections_open),
    );
    for l in &a.lapsing {
        let _ = write!(
            h,
            "<tr><td>Vervalt op {} ({} werknemers)</td><td class=\"n\"></td><td class=\"n\">{}</td></tr>",
            escape(&l.expires_on),
            l.workers.map_or_else(|| "–".to_string(), count_nl),
            escape(&l.amount.as_deref().map_or_else(|| "afgeschermd".to_string(), euro))
        );
    }
    h.push_str("</table>");
}

fn providers(h: &mut String, r: &MonthlyReport) {
    let p = &r.providers;
    let _ = write!(
        h,
        "<h2>Opleiders</h2><p class=\"note\">Grootste opleider: {} van de netto bestedingen dit jaar; concentratie-index (HHI, 0 tot 10.000): {}.</p>\
         <table><tr><th>Opleider</th><th class=\"n\">Besteed dit jaar</th><th class=\"n\">Aandeel</th></tr>",
        escape(&pct_nl(p.top_share_pct.as_ref())),
        p.hhi.map_or_else(|| "–".to_string(), count_nl)
    );
    for t in &p.top {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&t.provider),
            escape(&euro(&t.spent)),
            escape(&pct_nl(t.share_pct.as_ref()))
        );
    }
    h.push_str("</table>");
}

fn signals(h: &mut String, r: &MonthlyReport) {
    let s = &r.signals;
    let _ = write!(
        h,
        "<h2>Signalen voor het fondsbureau</h2><table><tr><th>Signaal</th><th class=\"n\">Waarde</th></tr>\
         <tr><td>Budget dat vervalt tot en met {until} (werknemers)</td><td class=\"n\">{w}</td></tr>\
         <tr><td>Budget dat vervalt tot en met {until} (bedrag)</td><td class=\"n\">{a}</td></tr>\
         <tr><td>Aandeel van de bestedingen bij de 10 grootste aanbieders ({p} aanbieders)</td><td class=\"n\">{share}</td></tr></table>",
        until = escape(&s.lapsing_next_3_months.until),
        w = s.lapsing_next_3_months.workers.map_or_else(|| "–".to_string(), count_nl),
        a = escape(&s.lapsing_next_3_months.amount.as_deref().map_or_else(|| "–".to_string(), euro)),
        p = s.providers,
        share = escape(&pct_nl(s.top10_provider_share_pct.as_ref()))
    );
    let p = &r.payments;
    let _ = write!(
        h,
        "<h2>Betalingen en bezwaren</h2><table><tr><th>Stand aan het eind van de maand</th><th class=\"n\">Aantal</th><th class=\"n\">Bedrag</th></tr>\
         <tr><td>Goedgekeurd, nog niet betaald</td><td class=\"n\">{u}</td><td class=\"n\">{ua}</td></tr>\
         <tr><td>Betaald in de maand</td><td class=\"n\">{pd}</td><td class=\"n\">{pa}</td></tr>\
         <tr><td>In beoordeling (geld vastgehouden)</td><td class=\"n\">{r}</td><td class=\"n\">{ra}</td></tr>\
         <tr><td>Open bezwaren</td><td class=\"n\">{o}</td><td class=\"n\"></td></tr></table>",
        u = count_or_dash(p.approved_unpaid_claims),
        ua = escape(&euro_or_dash(p.approved_unpaid.as_deref())),
        pd = count_or_dash(p.paid_month_claims),
        pa = escape(&euro_or_dash(p.paid_month.as_deref())),
        o = count_or_dash(p.objections_open),
        r = count_or_dash(p.under_review_claims),
        ra = escape(&euro_or_dash(p.under_review.as_deref())),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dutch_amounts_and_escaping() {
        assert_eq!(euro("1234567.50"), "€\u{a0}1.234.567,50");
        assert_eq!(euro("0.05"), "€\u{a0}0,05");
        assert_eq!(escape("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(month_nl("2026-10"), "oktober 2026");
        assert_eq!((count_nl(1234567), count_nl(999), count_nl(-1000)), ("1.234.567".into(), "999".into(), "-1.000".into()));
        assert_eq!(euro("-123.40"), "-€\u{a0}123,40");
        assert_eq!((euro_round("7431000.50"), euro_round("99999.99")), ("€\u{a0}7.431.001".into(), "€\u{a0}99.999,99".into()));
    }
}
