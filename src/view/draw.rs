//! The agent view's layout: a [`ViewState`] drawn into a ratatui [`Frame`].
//!
//! From top to bottom: header (call, elapsed time), who speaks now, the two parties' meters,
//! the caller's agitation with its last minute, the talk ratio and counts, the last alerts,
//! and the footer. Space is handed out by priority, so a small terminal keeps what matters
//! most: the speaker line, the agitation gauge and the newest alert come first (a 60 × 16
//! terminal shows every section); borders, the sparkline and older alerts come as room allows.
//! Any size draws without panicking, down to 1 × 1.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, RenderDirection, Sparkline, Wrap};

use crate::alert::{Alert, Severity};
use crate::role::Role;

use super::state::{ALERTS_SHOWN, METER_FLOOR_DB, PartyMeter, Speaker, ViewState};

const AGENT: Color = Color::Cyan;
const CALLER: Color = Color::Magenta;
const DIM: Color = Color::DarkGray;
const CALM: Color = Color::Green;
const WARN: Color = Color::Yellow;
const CRITICAL: Color = Color::Red;

/// Agitation at or above this shows yellow.
const AGITATION_WARN: f32 = 0.4;
/// Agitation at or above this shows red.
const AGITATION_HIGH: f32 = 0.65;

/// The sections, top to bottom.
#[derive(Clone, Copy)]
enum Section {
    Header,
    Speaker,
    Meters,
    Agitation,
    Stats,
    Alerts,
    Footer,
}

const SECTIONS: usize = 7;

/// Rows of the newest alert's banner, when the alert list has room for it.
const BANNER_ROWS: u16 = 3;

/// Rows per section for a terminal `height` rows high: minimum rows in order of importance,
/// then growth steps (borders, sparkline, older alerts) in order of importance.
fn plan(height: u16) -> [u16; SECTIONS] {
    use Section::*;
    let mut rows = [0u16; SECTIONS];
    let mut left = height;
    let mut grow = |rows: &mut [u16; SECTIONS], s: Section, to: u16| {
        let have = rows[s as usize];
        if to > have && to - have <= left {
            left -= to - have;
            rows[s as usize] = to;
        }
    };
    let steps = [
        (Speaker, 1),
        (Agitation, 1),
        (Alerts, 1),
        (Header, 1),
        (Footer, 1),
        (Meters, 2),
        (Stats, 1),
        (Alerts, 2),
        (Agitation, 2),
        (Meters, 4),
        (Alerts, 4),
        (Agitation, 5),
        (Alerts, ALERTS_SHOWN as u16 + 2),
        (Speaker, 3),
        (Agitation, 6),
        (Alerts, ALERTS_SHOWN as u16 + 2 + BANNER_ROWS - 1),
        (Agitation, 8),
        (Agitation, 10),
    ];
    for (s, to) in steps {
        grow(&mut rows, s, to);
    }
    rows
}

/// Draws `state` over the whole frame.
///
/// # Examples
///
/// ```
/// use ratatui::{Terminal, backend::TestBackend};
/// use callpulse::view::{ViewState, draw};
///
/// let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
/// let state = ViewState::new("demo");
/// terminal.draw(|f| draw(f, &state)).unwrap();
/// ```
pub fn draw(frame: &mut Frame<'_>, state: &ViewState) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    let rows = plan(area.height);
    let used: u16 = rows.iter().sum();
    let mut constraints = [Constraint::Length(0); SECTIONS + 1];
    // The slack goes above the footer, so the footer stays at the bottom.
    for (i, r) in rows.iter().enumerate() {
        let slot = if i == Section::Footer as usize {
            i + 1
        } else {
            i
        };
        constraints[slot] = Constraint::Length(*r);
    }
    constraints[Section::Footer as usize] = Constraint::Length(area.height - used);
    let areas = Layout::vertical(constraints).split(area);
    let at = |s: Section| {
        if matches!(s, Section::Footer) {
            areas[SECTIONS]
        } else {
            areas[s as usize]
        }
    };
    header(frame, at(Section::Header), state);
    speaker(frame, at(Section::Speaker), state);
    meters(frame, at(Section::Meters), state);
    agitation(frame, at(Section::Agitation), state);
    stats(frame, at(Section::Stats), state);
    alerts(frame, at(Section::Alerts), state);
    footer(frame, at(Section::Footer), state);
}

/// `s` seconds as `m:ss` (or `h:mm:ss`).
fn clock(s: f64) -> String {
    let s = if s.is_finite() { s.max(0.0) as u64 } else { 0 };
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Agent => "Agent",
        Role::Caller => "Caller",
    }
}

fn role_color(role: Role) -> Color {
    match role {
        Role::Agent => AGENT,
        Role::Caller => CALLER,
    }
}

fn agitation_color(a: f32) -> Color {
    if a >= AGITATION_HIGH {
        CRITICAL
    } else if a >= AGITATION_WARN {
        WARN
    } else {
        CALM
    }
}

fn severity_color(s: Severity) -> Color {
    match s {
        Severity::Warn => WARN,
        Severity::Critical => CRITICAL,
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Warn => "WARN",
        Severity::Critical => "CRITICAL",
    }
}

/// A bar `width` cells wide, filled to `ratio`: the filled and the empty part.
fn bar(ratio: f64, width: u16, color: Color) -> [Span<'static>; 2] {
    let width = usize::from(width);
    let filled = ((ratio.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    [
        Span::styled("█".repeat(filled), Style::new().fg(color)),
        Span::styled("─".repeat(width - filled), Style::new().fg(DIM)),
    ]
}

/// A bordered block when `area` has room for one (at least `min_height` rows): the block and
/// the area inside it; else no block and the whole area.
fn framed(area: Rect, min_height: u16, title: Line<'static>) -> (Option<Block<'static>>, Rect) {
    if area.height >= min_height && area.width >= 12 {
        let block = Block::new()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(DIM))
            .title(title);
        let inner = block.inner(area);
        (Some(block), inner)
    } else {
        (None, area)
    }
}

fn header(frame: &mut Frame<'_>, area: Rect, state: &ViewState) {
    if area.height == 0 {
        return;
    }
    let title = Line::from(vec![
        Span::styled(" callpulse ", Style::new().add_modifier(Modifier::BOLD)),
        Span::styled("· ", Style::new().fg(DIM)),
        Span::raw(state.call_name().to_owned()),
    ]);
    let (status, color) = if state.summary().is_some() {
        ("ENDED ", DIM)
    } else {
        ("● LIVE ", CRITICAL)
    };
    let right = Line::from(vec![
        Span::styled(status, Style::new().fg(color)),
        Span::styled(
            format!("{} ", clock(state.elapsed_s())),
            Style::new().add_modifier(Modifier::BOLD),
        ),
    ]);
    let right_width = right.width() as u16;
    frame.render_widget(Paragraph::new(title), area);
    if area.width > right_width {
        let r = Rect {
            x: area.x + area.width - right_width,
            width: right_width,
            ..area
        };
        frame.render_widget(Paragraph::new(right), r);
    }
}

fn speaker(frame: &mut Frame<'_>, area: Rect, state: &ViewState) {
    if area.height == 0 {
        return;
    }
    let big = Style::new().add_modifier(Modifier::BOLD);
    let line = if let Some(s) = state.summary() {
        Line::from(vec![
            Span::styled(" CALL ENDED ", big.fg(Color::Black).bg(Color::Blue)),
            Span::styled(format!("  after {}", clock(s.duration_s)), big),
        ])
    } else {
        match state.speaker() {
            Speaker::Waiting => Line::styled(" Waiting for audio…", Style::new().fg(DIM)),
            Speaker::One(role) => Line::from(vec![
                Span::styled(
                    format!(" {} ", role_name(role).to_uppercase()),
                    big.fg(Color::Black).bg(role_color(role)),
                ),
                Span::styled(" speaking", big.fg(role_color(role))),
            ]),
            Speaker::Both => Line::from(vec![
                Span::styled(" BOTH ", big.fg(Color::Black).bg(WARN)),
                Span::styled(" talk-over: agent and caller at once", big.fg(WARN)),
            ]),
            Speaker::Nobody { silence_s } => Line::from(vec![
                Span::styled(" SILENCE ", big.fg(Color::Black).bg(Color::Gray)),
                Span::styled(format!(" nobody speaking for {silence_s:.1} s"), big),
            ]),
        }
    };
    let inner = if area.height >= 3 {
        Rect {
            y: area.y + area.height / 2,
            height: 1,
            ..area
        }
    } else {
        area
    };
    frame.render_widget(Paragraph::new(line), inner);
}

/// The level, loudness and pitch of one party as spans, the bar `bar_width` cells wide.
fn meter_spans(m: &PartyMeter, bar_width: u16, color: Color) -> Vec<Span<'static>> {
    let mut spans = Vec::with_capacity(6);
    spans.extend(bar(m.level_ratio(), bar_width, color));
    let db = if m.level_db <= METER_FLOOR_DB {
        "  −∞ dB".to_owned()
    } else {
        format!("{:>4.0} dB", m.level_db)
    };
    spans.push(Span::raw(format!(" {db}")));
    spans
}

fn lufs_text(m: &PartyMeter) -> String {
    if m.lufs_m.is_finite() && m.lufs_m > -70.0 {
        format!("{:.1} LUFS", m.lufs_m)
    } else {
        "— LUFS".to_owned()
    }
}

fn pitch_text(m: &PartyMeter) -> String {
    match m.f0_hz {
        Some(f) => format!("{f:.0} Hz"),
        None => "—".to_owned(),
    }
}

fn meters(frame: &mut Frame<'_>, area: Rect, state: &ViewState) {
    if area.height == 0 {
        return;
    }
    if area.height >= 4 && area.width >= 40 {
        let halves = Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)])
            .spacing(1)
            .split(area);
        for (role, half) in Role::ALL.into_iter().zip(halves.iter()) {
            let m = state.party(role);
            let speaking = m.is_some_and(|m| m.speech);
            let mut title = vec![Span::styled(
                format!(" {} ", role_name(role)),
                Style::new()
                    .fg(role_color(role))
                    .add_modifier(Modifier::BOLD),
            )];
            if speaking {
                title.push(Span::styled("● ", Style::new().fg(role_color(role))));
            }
            let (block, inner) = framed(*half, 4, Line::from(title));
            if let Some(b) = block {
                frame.render_widget(b, *half);
            }
            let lines = match m {
                Some(m) => {
                    let bar_width = inner.width.saturating_sub(9);
                    vec![
                        Line::from(meter_spans(m, bar_width, role_color(role))),
                        Line::from(vec![
                            Span::styled("pitch ", Style::new().fg(DIM)),
                            Span::styled(
                                format!("{:<8}", pitch_text(m)),
                                Style::new().add_modifier(Modifier::BOLD),
                            ),
                            Span::styled(
                                if inner.width >= 40 {
                                    "  loudness "
                                } else {
                                    "  "
                                },
                                Style::new().fg(DIM),
                            ),
                            Span::raw(lufs_text(m)),
                        ]),
                    ]
                }
                None => vec![Line::styled("not in this call", Style::new().fg(DIM))],
            };
            frame.render_widget(Paragraph::new(lines), inner);
        }
    } else {
        // One line per party: name, bar, dB, pitch, LUFS.
        let rows = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).split(area);
        for (role, row) in Role::ALL.into_iter().zip(rows.iter()) {
            let name = Span::styled(
                format!(" {:<7}", role_name(role)),
                Style::new()
                    .fg(role_color(role))
                    .add_modifier(Modifier::BOLD),
            );
            let mut spans = vec![name];
            match state.party(role) {
                Some(m) => {
                    let bar_width = row.width.saturating_sub(40).clamp(4, 40);
                    spans.extend(meter_spans(m, bar_width, role_color(role)));
                    spans.push(Span::styled(
                        format!("  {:<7}", pitch_text(m)),
                        Style::new().add_modifier(Modifier::BOLD),
                    ));
                    spans.push(Span::styled(
                        format!(" {}", lufs_text(m)),
                        Style::new().fg(DIM),
                    ));
                }
                None => spans.push(Span::styled("not in this call", Style::new().fg(DIM))),
            }
            frame.render_widget(Paragraph::new(Line::from(spans)), *row);
        }
    }
}

fn agitation(frame: &mut Frame<'_>, area: Rect, state: &ViewState) {
    if area.height == 0 {
        return;
    }
    let label = Style::new().fg(CALLER).add_modifier(Modifier::BOLD);
    let mut title = vec![Span::styled(" Caller agitation ", label)];
    if let Some(a) = state.summary().map(|s| s.agitation) {
        if let (Some(peak), Some(at)) = (a.peak, a.peak_t) {
            title.push(Span::styled(
                format!("peak {peak:.2} at {} ", clock(at)),
                Style::new().fg(DIM),
            ));
        }
    } else {
        title.push(Span::styled("· last minute ", Style::new().fg(DIM)));
    }
    let (block, inner) = framed(area, 4, Line::from(title));
    let bordered = block.is_some();
    if let Some(b) = block {
        frame.render_widget(b, area);
    }
    if inner.height == 0 {
        return;
    }
    let gauge_row = Rect { height: 1, ..inner };
    let mut spans = Vec::new();
    if !bordered {
        spans.push(Span::styled(" Agitation ", label));
    } else {
        spans.push(Span::raw(" "));
    }
    match state.agitation() {
        Some(a) => {
            let color = agitation_color(a);
            let arrow = state.agitation_trend().map_or(" ", |t| t.arrow());
            spans.push(Span::styled(
                format!("{a:.2} {arrow} "),
                Style::new().fg(color).add_modifier(Modifier::BOLD),
            ));
            let used: u16 = spans.iter().map(|s| s.width() as u16).sum();
            let width = inner.width.saturating_sub(used + 1);
            spans.extend(bar(f64::from(a), width, color));
        }
        None if !state.has_caller() => {
            spans.push(Span::styled("no caller channel", Style::new().fg(DIM)));
        }
        None => spans.push(Span::styled(
            "baseline… (learning the caller's normal voice)",
            Style::new().fg(DIM),
        )),
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), gauge_row);
    if inner.height >= 2 {
        let spark_area = Rect {
            x: inner.x + 1,
            y: inner.y + 1,
            width: inner.width.saturating_sub(2),
            height: inner.height - 1,
        };
        let width = usize::from(spark_area.width);
        let history: Vec<Option<f32>> = state.agitation_history().collect();
        let start = history.len().saturating_sub(width);
        let data: Vec<Option<u64>> = history[start..]
            .iter()
            .rev()
            .map(|p| p.map(|a| (a.clamp(0.0, 1.0) * 100.0).round() as u64))
            .collect();
        let color = state.agitation().map_or(DIM, agitation_color);
        frame.render_widget(
            Sparkline::default()
                .data(data)
                .max(100)
                .direction(RenderDirection::RightToLeft)
                .style(Style::new().fg(color)),
            spark_area,
        );
    }
}

fn stats(frame: &mut Frame<'_>, area: Rect, state: &ViewState) {
    if area.height == 0 {
        return;
    }
    let dim = Style::new().fg(DIM);
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let pct = |r: Option<f64>| r.map_or("—".to_owned(), |r| format!("{:.0}%", r * 100.0));
    let (ratio, interruptions, overlap) = match state.summary() {
        Some(s) => (
            s.talk_ratio_agent,
            (
                s.conversation.interruptions.agent,
                s.conversation.interruptions.caller,
            ),
            format!("{:.1}%", s.conversation.overlap_pct),
        ),
        None => (
            state.talk_ratio_agent(),
            (
                state.interruptions(Role::Agent),
                state.interruptions(Role::Caller),
            ),
            state.overlaps().to_string(),
        ),
    };
    let wide = area.width >= 90;
    let spans = if area.width >= 70 {
        vec![
            Span::styled(if wide { " Talk ratio " } else { " Talk " }, dim),
            Span::styled(format!("agent {}", pct(ratio)), bold.fg(AGENT)),
            Span::styled(" · ", dim),
            Span::styled(
                format!("caller {}", pct(ratio.map(|r| 1.0 - r))),
                bold.fg(CALLER),
            ),
            Span::styled(
                if wide {
                    "    Interruptions "
                } else {
                    "  Interruptions "
                },
                dim,
            ),
            Span::styled(format!("agent {}", interruptions.0), bold),
            Span::styled(" · ", dim),
            Span::styled(format!("caller {}", interruptions.1), bold),
            Span::styled(if wide { "    Overlaps " } else { "  Overlaps " }, dim),
            Span::styled(overlap, bold),
        ]
    } else {
        vec![
            Span::styled(" Talk ", dim),
            Span::styled(format!("A {}", pct(ratio)), bold.fg(AGENT)),
            Span::styled(" · ", dim),
            Span::styled(
                format!("C {}", pct(ratio.map(|r| 1.0 - r))),
                bold.fg(CALLER),
            ),
            Span::styled("  Interr. ", dim),
            Span::styled(
                format!("A {} · C {}", interruptions.0, interruptions.1),
                bold,
            ),
            Span::styled("  Overlaps ", dim),
            Span::styled(overlap, bold),
        ]
    };
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The lines of one alert: time, severity, message.
fn alert_line(a: &Alert, newest: bool, highlighted: bool, wide: bool) -> Line<'static> {
    let color = severity_color(a.severity);
    let (time_style, sev_style, msg_style) = if highlighted {
        let on = Style::new()
            .fg(Color::Black)
            .bg(color)
            .add_modifier(Modifier::BOLD);
        (on, on, on)
    } else if newest {
        (
            Style::new().fg(DIM),
            Style::new().fg(color).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    } else {
        (
            Style::new().fg(DIM),
            Style::new().fg(color),
            Style::new().fg(Color::Gray),
        )
    };
    let severity = if wide {
        format!("{:<9}", severity_name(a.severity))
    } else {
        format!("{} ", &severity_name(a.severity)[..1])
    };
    Line::from(vec![
        Span::styled(format!(" {:>5} ", clock(a.t)), time_style),
        Span::styled(severity, sev_style),
        Span::styled(format!("{} ", a.message), msg_style),
    ])
}

fn alerts(frame: &mut Frame<'_>, area: Rect, state: &ViewState) {
    if area.height == 0 {
        return;
    }
    let total = state.alerts_total();
    let title = Line::from(vec![
        Span::styled(" Alerts ", Style::new().add_modifier(Modifier::BOLD)),
        Span::styled(
            if total > 0 {
                format!("· {total} so far · newest first ")
            } else {
                String::new()
            },
            Style::new().fg(DIM),
        ),
    ]);
    let (block, inner) = framed(area, 3, title);
    if let Some(b) = block {
        frame.render_widget(b, area);
    }
    let wide = inner.width >= 50;
    let highlighted = state.newest_alert_highlighted();
    let Some(newest) = state.alerts().next() else {
        frame.render_widget(
            Paragraph::new(Line::styled(" No alerts so far.", Style::new().fg(DIM))),
            inner,
        );
        return;
    };
    let mut list = inner;
    if inner.height > ALERTS_SHOWN as u16 && inner.width >= 30 {
        // Room for a banner: the newest alert in plain, bold words, centred.
        let banner = Rect {
            height: BANNER_ROWS,
            ..inner
        };
        list = Rect {
            y: inner.y + BANNER_ROWS,
            height: inner.height - BANNER_ROWS,
            ..inner
        };
        let color = severity_color(newest.severity);
        let (base, message) = if highlighted {
            let on = Style::new().fg(Color::Black).bg(color);
            (on, on.add_modifier(Modifier::BOLD))
        } else {
            (
                Style::new().fg(color),
                Style::new().fg(color).add_modifier(Modifier::BOLD),
            )
        };
        let detail = format!(
            "{} · {} · about the {}",
            severity_name(newest.severity),
            clock(newest.t),
            newest.who
        );
        frame.render_widget(Block::new().style(base), banner);
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled(newest.message, message),
                Line::styled(detail, base),
            ])
            .style(base)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
            banner,
        );
    }
    let skip = usize::from(list.y > inner.y);
    let lines: Vec<Line<'static>> = state
        .alerts()
        .enumerate()
        .skip(skip)
        .map(|(i, a)| alert_line(a, i == 0, i == 0 && highlighted, wide))
        .collect();
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), list);
}

fn footer(frame: &mut Frame<'_>, area: Rect, _state: &ViewState) {
    if area.height == 0 {
        return;
    }
    let row = Rect {
        y: area.y + area.height - 1,
        height: 1,
        ..area
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" q", Style::new().add_modifier(Modifier::BOLD)),
            Span::styled(": quit", Style::new().fg(DIM)),
        ]))
        .alignment(Alignment::Left),
        row,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_fits_every_height_and_keeps_the_essentials() {
        for h in 0..80u16 {
            let rows = plan(h);
            assert!(rows.iter().sum::<u16>() <= h, "{h}: {rows:?}");
            if h >= 3 {
                assert!(rows[Section::Speaker as usize] >= 1);
                assert!(rows[Section::Agitation as usize] >= 1);
                assert!(rows[Section::Alerts as usize] >= 1);
            }
        }
        let rows = plan(16);
        assert!(
            rows.iter().all(|r| *r >= 1),
            "60×16 shows every section: {rows:?}"
        );
    }

    use std::sync::Arc;

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::alert::AlertKind;
    use crate::features::PartyFeatures;
    use crate::record::{FrameRecord, Record};

    const MESSAGE: &str = "Caller agitation rising: acknowledge the problem";

    /// A call of `n` frames: the agent talks for the first half of each 4 s, the caller for
    /// the second, with the caller's agitation rising from 0.1 to 0.7 after a 2 s baseline,
    /// and an alert near the end.
    fn records(n: u64) -> Vec<Record> {
        let mut out = Vec::new();
        for i in 0..n {
            let t = (i as f64 + 0.5) * 0.01;
            let agent_turn = (t % 4.0) < 2.0;
            let party = |speech: bool, f0: f32| PartyFeatures {
                speech,
                active: speech,
                extent: speech,
                f0_hz: speech.then_some(f0),
                loudness_db: if speech { -22.0 } else { -58.0 },
                lufs_m: if speech { -23.0 } else { -60.0 },
                ..PartyFeatures::default()
            };
            let mut caller = party(!agent_turn, 210.0);
            caller.agitation = (t >= 2.0).then(|| (0.1 + 0.6 * i as f64 / n as f64) as f32);
            out.push(Record::Frame(FrameRecord {
                index: i,
                t,
                parties: [Some(party(agent_turn, 115.0)), Some(caller)],
                captured_at: None,
            }));
            if i == n - 20 {
                out.push(Record::Alert(Alert {
                    kind: AlertKind::CallerAgitationRising,
                    t,
                    who: Role::Caller,
                    severity: Severity::Warn,
                    message: MESSAGE,
                    captured_at: None,
                }));
            }
        }
        out
    }

    fn state_after(records: &[Record]) -> ViewState {
        let mut s = ViewState::new("demo call");
        for r in records {
            s.apply(r);
        }
        s
    }

    fn screen(state: &ViewState, w: u16, h: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| draw(f, state)).unwrap();
        let buffer = terminal.backend().buffer();
        let mut text = String::new();
        for y in 0..h {
            for x in 0..w {
                text.push_str(buffer[(x, y)].symbol());
            }
            text.push('\n');
        }
        text
    }

    #[test]
    fn draws_the_call_at_100_by_30() {
        let state = state_after(&records(700));
        let text = screen(&state, 100, 30);
        eprintln!("{text}");
        assert!(text.contains(MESSAGE), "{text}");
        assert!(text.contains("Caller") && text.contains("Agent"), "{text}");
        let a = format!("{:.2}", state.agitation().unwrap());
        assert!(text.contains(&a), "agitation {a}: {text}");
        assert!(text.contains("Talk ratio"), "{text}");
        assert!(text.contains("q: quit"), "{text}");
        assert!(
            text.contains("demo call") && text.contains("0:06"),
            "{text}"
        );
    }

    #[test]
    fn small_terminal_keeps_speaker_agitation_and_alert() {
        let state = state_after(&records(700));
        let text = screen(&state, 60, 16);
        eprintln!("{text}");
        assert!(
            text.contains("speaking") || text.contains("SILENCE"),
            "{text}"
        );
        let a = format!("{:.2}", state.agitation().unwrap());
        assert!(text.contains(&a), "agitation {a}: {text}");
        assert!(text.contains("Caller agitation rising"), "{text}");
        assert!(text.contains("Caller") && text.contains("Agent"), "{text}");
    }

    #[test]
    fn before_a_baseline_the_gauge_says_so() {
        let mut records = records(150);
        records.retain(|r| !matches!(r, Record::Alert(_)));
        let state = state_after(&records);
        let text = screen(&state, 100, 30);
        assert!(text.contains("baseline…"), "{text}");
        assert!(text.contains("No alerts so far"), "{text}");
    }

    #[test]
    fn tiny_terminals_do_not_panic() {
        let state = state_after(&records(700));
        let empty = ViewState::new("a call with a long name that does not fit anywhere");
        for (w, h) in [
            (1, 1),
            (20, 5),
            (2, 40),
            (200, 1),
            (59, 15),
            (12, 4),
            (40, 3),
        ] {
            screen(&state, w, h);
            screen(&empty, w, h);
        }
    }

    #[test]
    fn the_ended_call_shows_its_summary() {
        use crate::pipeline::analyze_frames;
        use crate::source::memory::MemorySource;
        let tone: Vec<f32> = (0..16_000)
            .map(|i| 0.2 * (i as f32 * 2.0 * std::f32::consts::PI * 150.0 / 8000.0).sin())
            .collect();
        let source = MemorySource::new(vec![
            (Role::Agent, 8000, tone),
            (Role::Caller, 8000, vec![0.0; 16_000]),
        ]);
        let (_, summary) =
            analyze_frames(crate::AnalysisConfig::default(), Box::new(source)).expect("analysis");
        let mut records = records(300);
        records.push(Record::Summary(Arc::clone(&summary)));
        let state = state_after(&records);
        assert!(state.summary().is_some());
        assert!(!state.newest_alert_highlighted());
        let text = screen(&state, 100, 30);
        assert!(
            text.contains("CALL ENDED") && text.contains("after 0:02"),
            "{text}"
        );
        assert!(text.contains("ENDED"), "{text}");
        let ratio = summary
            .talk_ratio_agent
            .map(|r| format!("agent {:.0}%", r * 100.0));
        assert!(text.contains(&ratio.unwrap_or_default()), "{text}");
    }

    #[test]
    fn the_newest_alert_stands_out_then_calms_down() {
        let mut records = records(700);
        let state = state_after(&records);
        assert!(state.newest_alert_highlighted());
        let bg_of_message = |state: &ViewState| {
            let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
            terminal.draw(|f| draw(f, state)).unwrap();
            let buffer = terminal.backend().buffer().clone();
            let text = screen(state, 100, 30);
            let row = text.lines().position(|l| l.contains(MESSAGE)).unwrap();
            let col = text.lines().nth(row).unwrap().find(MESSAGE).unwrap();
            // Box-drawing characters before the message are 3 bytes wide: count chars.
            let x = text.lines().nth(row).unwrap()[..col].chars().count() as u16;
            buffer[(x, row as u16)].bg
        };
        assert_eq!(bg_of_message(&state), WARN);
        // Five seconds later the banner keeps its words but drops the background.
        let quiet: Vec<Record> = (700..1200)
            .map(|i| {
                Record::Frame(FrameRecord {
                    index: i,
                    t: (i as f64 + 0.5) * 0.01,
                    parties: [Some(PartyFeatures::default()); 2],
                    captured_at: None,
                })
            })
            .collect();
        records.extend(quiet);
        let state = state_after(&records);
        assert!(!state.newest_alert_highlighted());
        assert_ne!(bg_of_message(&state), WARN);
    }

    #[test]
    fn clock_formats() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(95.3), "1:35");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(clock(f64::NAN), "0:00");
    }
}
