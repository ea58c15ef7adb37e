//! Search the way villagers and clerks search (事项检索): Chinese substring, full pinyin
//! (`yanglao`), pinyin initials (`ylbx`) and mixtures (`yanglbx`), ignoring spaces, case and
//! full-width letters; plus browsing by category (事项分类) and by life event (主题/生命周期).
//!
//! Ranking, best first: item code, name prefix, anywhere in the name, short name or alias, guide
//! text; within a tier an earlier and a whole match wins, then the shorter name, then the
//! county's order. Pinyin and initials match only names, short names and aliases, never guide
//! text (initials of a whole guide would match almost anything).
//!
//! Polyphonic characters (多音字: 行 hang/xing, 重 chong/zhong, 长 chang/zhang…) are indexed with
//! every reading the `pinyin` crate knows, so the reading a villager types always matches; a match
//! that needs a rarer reading (失 as yi) ranks below common-reading matches of the same tier.
//!
//! Everything is precomputed in [`SearchIndex::build`]: a character bigram index over names and
//! guides for Chinese queries, and per-name syllable tables for pinyin. A pinyin query scans a
//! compact per-item prefilter (letters, letter pairs, first letters), and keeps only the best
//! `limit` hits in a bounded heap while it scans: once that is full, a name is matched only at
//! the starts whose score could still beat the worst hit kept, which turns the hundreds of
//! genuine matches of a short query into a few dozen cheap checks. Pure: no I/O, no clock; the
//! index never changes after it is built.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use pinyin::ToPinyinMulti;
use serde::Serialize;

use super::model::{Category, ServiceItem};

/// Which text of the item matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedField {
    /// 事项编码.
    Code,
    /// 事项名称.
    Name,
    /// 简称.
    ShortName,
    /// 别名 (index into `aliases`).
    Alias(usize),
    /// 办事指南 text: conditions, materials, process, FAQ…
    Guide,
}

/// How the query matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchVia {
    /// The characters themselves (Chinese, digits, Latin letters, the code).
    Text,
    /// Full pinyin, e.g. `yanglao`.
    FullPinyin,
    /// Pinyin initials, e.g. `ylbx`.
    Initials,
    /// Full syllables and initials mixed, e.g. `yanglbx`.
    MixedPinyin,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchHit {
    /// Index of the item in the slice the index was built from.
    pub index: usize,
    /// The item's code (事项编码).
    pub code: String,
    /// Higher is better; only the order matters.
    pub score: u32,
    pub field: MatchedField,
    pub via: MatchVia,
    /// Character range matched in the field's text (for highlighting); `None` for guide text.
    pub span: Option<(usize, usize)>,
}

/// A life event (生命周期主题) and the items under it, in the county's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifeEvent {
    pub name: String,
    pub items: Vec<usize>,
}

const TIER_CODE: u32 = 5000;
const TIER_NAME_PREFIX: u32 = 4000;
const TIER_NAME: u32 = 3000;
const TIER_ALIAS: u32 = 2000;
const TIER_GUIDE: u32 = 1000;
/// A pinyin match that needs a rarer reading of a polyphonic character ranks below common-reading
/// matches of the same tier (name prefix, name, alias), and never drops below the next tier.
const RARE_READING_PENALTY: u32 = 600;

/// Queries longer than this (in characters, after normalising) are cut: nobody types more, and
/// it bounds the work of one query.
const MAX_QUERY_CHARS: usize = 64;

/// The precomputed search index over one catalogue.
#[derive(Debug, Clone)]
pub struct SearchIndex {
    entries: Vec<Entry>,
    filters: Vec<Filter>,
    /// Character bigrams (and single characters) of names, short names and aliases → items.
    name_grams: HashMap<u64, Vec<u32>>,
    /// The same over guide text.
    guide_grams: HashMap<u64, Vec<u32>>,
    /// Interned pinyin readings (ASCII, `ü` as `v`).
    syllables: Vec<Box<[u8]>>,
    /// Reading ids of every pinyin position, referenced by `Position::readings`.
    reading_pool: Vec<u32>,
    categories: Vec<(Category, Vec<usize>)>,
    life_events: Vec<LifeEvent>,
    /// Item indices ordered by (name length, index): the order guide-only hits are ranked in.
    guide_rank: Vec<u32>,
}

#[derive(Debug, Clone)]
struct Entry {
    code: String,
    code_lc: String,
    name_chars: u32,
    targets: Vec<Target>,
    guide: String,
}

/// The pinyin prefilter of one item, kept apart from [`Entry`] so a scan stays in cache.
#[derive(Debug, Clone, Copy)]
struct Filter {
    /// Letters (bit 0 = a … 25 = z, 26 = digit, 27 = other) that start a reading in any target.
    start_mask: u32,
    /// Letters that occur anywhere in any reading of any target.
    letter_mask: u32,
    /// Letter pairs a pinyin match can produce: inside a reading, or across the boundary to the
    /// next position. Every adjacent pair of a matching query is in here (a superset filter).
    pairs: PairSet,
    /// Letters that start a reading of the name's first position: the only start that can
    /// still make a hit once the best `limit` hits are all name-prefix matches.
    name_first_mask: u32,
    /// First byte of the lower-case code, so the scan need not touch the [`Entry`] at all for
    /// an item that cannot match.
    code_first: u8,
}

/// A set of letter pairs over 27 symbols (a–z, and one for anything else).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PairSet([u64; 12]);

impl PairSet {
    fn sym(b: u8) -> usize {
        match b {
            b'a'..=b'z' => (b - b'a') as usize,
            _ => 26,
        }
    }

    fn insert(&mut self, a: u8, b: u8) {
        let bit = Self::sym(a) * 27 + Self::sym(b);
        self.0[bit / 64] |= 1 << (bit % 64);
    }

    /// The non-empty words, for a quick `contains_all` of a query's few pairs.
    fn words(&self) -> Vec<(usize, u64)> {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, w)| **w != 0)
            .map(|(i, w)| (i, *w))
            .collect()
    }

    /// Whether every pair in `words` (from [`PairSet::words`]) is in this set.
    fn contains_words(&self, words: &[(usize, u64)]) -> bool {
        words.iter().all(|&(i, w)| self.0[i] & w == w)
    }
}

#[derive(Debug, Clone)]
struct Target {
    field: MatchedField,
    /// Normalised text (lower case, no spaces, half-width).
    text: String,
    /// For each char of `text`, its char index in the original field.
    orig_index: Vec<u32>,
    /// Pinyin positions: one per character that has a reading.
    positions: Vec<Position>,
}

#[derive(Debug, Clone, Copy)]
struct Position {
    /// Char index in the original field.
    orig: u32,
    readings_start: u32,
    readings_len: u32,
    /// The first `primary_len` readings spell the common reading; the rest are rarer ones.
    primary_len: u32,
    first_mask: u32,
}

fn letter_bit(b: u8) -> u32 {
    match b {
        b'a'..=b'z' => 1 << (b - b'a'),
        b'0'..=b'9' => 1 << 26,
        _ => 1 << 27,
    }
}

/// Lower case, half-width, whitespace removed: how both queries and texts are compared.
pub fn normalize(s: &str) -> String {
    normalize_mapped(s).0
}

fn normalize_mapped(s: &str) -> (String, Vec<u32>) {
    let mut out = String::with_capacity(s.len());
    let mut map = Vec::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        if c.is_whitespace() || c == '\u{3000}' {
            continue;
        }
        // Full-width ASCII (ＡＢＣ１２３) to half-width.
        let c = match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        };
        for l in c.to_lowercase() {
            out.push(l);
            map.push(i as u32);
        }
    }
    (out, map)
}

fn gram_key(a: char, b: Option<char>) -> u64 {
    ((a as u64) << 32) | b.map_or(u32::MAX as u64, |b| b as u64)
}

/// Adds every character and every bigram of `text` (not across `\u{1}` separators) to `grams`.
fn add_grams(grams: &mut HashMap<u64, Vec<u32>>, text: &str, id: u32) {
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if c == '\u{1}' {
            prev = None;
            continue;
        }
        for key in [Some(gram_key(c, None)), prev.map(|p| gram_key(p, Some(c)))]
            .into_iter()
            .flatten()
        {
            let list = grams.entry(key).or_default();
            if list.last() != Some(&id) {
                list.push(id);
            }
        }
        prev = Some(c);
    }
}

struct Interner {
    ids: HashMap<Vec<u8>, u32>,
    syllables: Vec<Box<[u8]>>,
}

impl Interner {
    fn id(&mut self, s: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.syllables.len() as u32;
        self.syllables.push(s.into());
        self.ids.insert(s.to_vec(), id);
        id
    }
}

/// The readings of one character: ASCII letters and digits read as themselves; Chinese
/// characters as every plain pinyin reading (`ü` both as `v` and as `u`); anything else none.
/// Returns how many of them (at the front) spell the character's first, most common reading.
fn readings_of(c: char, out: &mut Vec<Vec<u8>>) -> usize {
    out.clear();
    if c.is_ascii_alphanumeric() {
        out.push(vec![c.to_ascii_lowercase() as u8]);
        return 1;
    }
    let mut primary = 0;
    if let Some(multi) = c.to_pinyin_multi() {
        for (n, p) in multi.into_iter().enumerate() {
            let plain = p.plain();
            for variant in [plain.replace('ü', "v"), plain.replace('ü', "u")] {
                let bytes = variant.into_bytes();
                if !bytes.is_empty() && bytes.is_ascii() && !out.contains(&bytes) {
                    out.push(bytes);
                }
            }
            if n == 0 {
                primary = out.len();
            }
        }
    }
    primary
}

impl Target {
    fn build(
        field: MatchedField,
        original: &str,
        interner: &mut Interner,
        pool: &mut Vec<u32>,
    ) -> Target {
        let (text, orig_index) = normalize_mapped(original);
        let mut positions = Vec::new();
        let mut readings = Vec::new();
        for (i, c) in original.chars().enumerate() {
            let c = match c as u32 {
                0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                _ => c,
            };
            let primary = readings_of(c, &mut readings);
            if readings.is_empty() {
                continue;
            }
            let start = pool.len() as u32;
            let mut first_mask = 0;
            for r in &readings {
                first_mask |= letter_bit(r[0]);
                let id = interner.id(r);
                pool.push(id);
            }
            positions.push(Position {
                orig: i as u32,
                readings_start: start,
                readings_len: readings.len() as u32,
                primary_len: primary as u32,
                first_mask,
            });
        }
        Target {
            field,
            text,
            orig_index,
            positions,
        }
    }
}

/// Tracks how a pinyin match used each syllable.
#[derive(Debug, Clone, Copy, Default)]
struct PinyinUse {
    full: u8,
    initial: u8,
    /// Some character was read with one of its rarer readings (失 as yi, 行 as hang).
    rare: bool,
}

impl PinyinUse {
    fn via(self) -> MatchVia {
        match (self.full, self.initial) {
            (_, 0) => MatchVia::FullPinyin,
            (0, _) => MatchVia::Initials,
            _ => MatchVia::MixedPinyin,
        }
    }
}

impl SearchIndex {
    /// Builds the index. Item indices in hits refer to `items`.
    pub fn build(items: &[ServiceItem]) -> SearchIndex {
        let mut interner = Interner {
            ids: HashMap::new(),
            syllables: Vec::new(),
        };
        let mut reading_pool = Vec::new();
        let mut name_grams: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut guide_grams: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut entries = Vec::with_capacity(items.len());
        let mut filters = Vec::with_capacity(items.len());
        let mut categories: Vec<(Category, Vec<usize>)> =
            Category::ALL.iter().map(|c| (*c, Vec::new())).collect();
        let mut life_events: Vec<LifeEvent> = Vec::new();

        for (idx, item) in items.iter().enumerate() {
            let id = idx as u32;
            let mut targets = vec![Target::build(
                MatchedField::Name,
                &item.name,
                &mut interner,
                &mut reading_pool,
            )];
            if let Some(s) = &item.short_name {
                targets.push(Target::build(
                    MatchedField::ShortName,
                    s,
                    &mut interner,
                    &mut reading_pool,
                ));
            }
            for (i, a) in item.aliases.iter().enumerate() {
                targets.push(Target::build(
                    MatchedField::Alias(i),
                    a,
                    &mut interner,
                    &mut reading_pool,
                ));
            }
            let mut start_mask = 0;
            let mut letter_mask = 0;
            let mut pairs = PairSet::default();
            for t in &targets {
                add_pairs(&mut pairs, t, &reading_pool, &interner.syllables);
                add_grams(&mut name_grams, &t.text, id);
                for p in &t.positions {
                    start_mask |= p.first_mask;
                    let range =
                        p.readings_start as usize..(p.readings_start + p.readings_len) as usize;
                    for &r in &reading_pool[range] {
                        for &b in interner.syllables[r as usize].iter() {
                            letter_mask |= letter_bit(b);
                        }
                    }
                }
            }
            let guide = guide_text(item);
            add_grams(&mut guide_grams, &guide, id);
            let name_first_mask = targets[0].positions.first().map_or(0, |p| p.first_mask);
            entries.push(Entry {
                code: item.code.clone(),
                code_lc: item.code.to_lowercase(),
                name_chars: item.name.chars().count() as u32,
                targets,
                guide,
            });
            filters.push(Filter {
                start_mask,
                letter_mask,
                pairs,
                name_first_mask,
                code_first: item.code.to_lowercase().bytes().next().unwrap_or(0),
            });

            if let Some((_, list)) = categories.iter_mut().find(|(c, _)| *c == item.category) {
                list.push(idx);
            }
            for ev in &item.life_events {
                let ev = ev.trim();
                if ev.is_empty() {
                    continue;
                }
                match life_events.iter_mut().find(|e| e.name == ev) {
                    Some(e) => {
                        if e.items.last() != Some(&idx) {
                            e.items.push(idx);
                        }
                    }
                    None => life_events.push(LifeEvent {
                        name: ev.to_string(),
                        items: vec![idx],
                    }),
                }
            }
        }
        let mut guide_rank: Vec<u32> = (0..entries.len() as u32).collect();
        guide_rank.sort_by_key(|&i| (entries[i as usize].name_chars, i));
        SearchIndex {
            entries,
            filters,
            name_grams,
            guide_grams,
            syllables: interner.syllables,
            reading_pool,
            categories,
            life_events,
            guide_rank,
        }
    }

    /// Number of items indexed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The best `limit` hits for `query`, best first. An empty query finds nothing.
    pub fn search(&self, query: &str, limit: usize) -> Vec<SearchHit> {
        let q: String = normalize(query).chars().take(MAX_QUERY_CHARS).collect();
        if q.is_empty() || limit == 0 {
            return Vec::new();
        }
        let mut hits = if q.is_ascii() {
            self.search_ascii(&q, limit)
        } else {
            let mut hits = Vec::new();
            let mut seen = vec![false; self.entries.len()];
            self.search_text(&q, &mut hits, &mut seen);
            // Only the best `limit` need ordering.
            let order = |a: &SearchHit, b: &SearchHit| {
                self.rank_key(b.score, b.index)
                    .cmp(&self.rank_key(a.score, a.index))
            };
            if hits.len() > limit {
                hits.select_nth_unstable_by(limit - 1, order);
                hits.truncate(limit);
            }
            hits.sort_by(order);
            if hits.len() < limit {
                self.search_guide(&q, limit - hits.len(), &mut hits, &seen);
            }
            hits
        };
        // Codes are filled in only for the hits returned.
        for h in &mut hits {
            h.code = self.code_of(h.index);
        }
        hits
    }

    /// The ranking of a hit, greater is better: score, then the shorter name, then the county's
    /// order.
    fn rank_key(&self, score: u32, index: usize) -> RankKey {
        RankKey {
            score,
            shorter_name: Reverse(self.entries[index].name_chars),
            earlier: Reverse(index),
        }
    }

    /// Items of a category, in the county's order.
    pub fn by_category(&self, category: Category) -> &[usize] {
        self.categories
            .iter()
            .find(|(c, _)| *c == category)
            .map_or(&[], |(_, l)| l.as_slice())
    }

    /// Categories that have items, in the fixed category order, with their item counts.
    pub fn categories(&self) -> Vec<(Category, usize)> {
        self.categories
            .iter()
            .filter(|(_, l)| !l.is_empty())
            .map(|(c, l)| (*c, l.len()))
            .collect()
    }

    /// Items tagged with a life event (exact name), in the county's order.
    pub fn by_life_event(&self, event: &str) -> &[usize] {
        let event = event.trim();
        self.life_events
            .iter()
            .find(|e| e.name == event)
            .map_or(&[], |e| e.items.as_slice())
    }

    /// Every life event in the order it first appears in the catalogue.
    pub fn life_events(&self) -> &[LifeEvent] {
        &self.life_events
    }

    /// Chinese (non-ASCII) query: substring of names, short names and aliases via the bigram
    /// index. Guide text is searched afterwards, only as far as needed.
    fn search_text(&self, q: &str, hits: &mut Vec<SearchHit>, seen: &mut [bool]) {
        for id in candidates(&self.name_grams, q) {
            let e = &self.entries[id as usize];
            let mut best: Option<SearchHit> = None;
            for t in &e.targets {
                if best.as_ref().is_some_and(|b| b.field == MatchedField::Name) {
                    break;
                }
                let Some(byte) = t.text.find(q) else {
                    continue;
                };
                let start = t.text[..byte].chars().count();
                let end = start + q.chars().count();
                let score = text_score(t.field, start, end == t.text.chars().count());
                if best.as_ref().is_none_or(|b| score > b.score) {
                    best = Some(SearchHit {
                        index: id as usize,
                        code: String::new(),
                        score,
                        field: t.field,
                        via: MatchVia::Text,
                        span: Some(orig_span(t, start, end)),
                    });
                }
            }
            if let Some(h) = best {
                seen[id as usize] = true;
                hits.push(h);
            }
        }
    }

    /// Guide text, ranked below every name hit: checks candidates in guide-rank order and stops
    /// once `want` more hits are found.
    fn search_guide(&self, q: &str, want: usize, hits: &mut Vec<SearchHit>, seen: &[bool]) {
        let mut cands = candidates(&self.guide_grams, q);
        if cands.is_empty() {
            return;
        }
        // Order by (name length, index): the tie-break order within the guide tier.
        if cands.len() * 4 < self.guide_rank.len() {
            cands.sort_by_key(|&i| (self.entries[i as usize].name_chars, i));
        } else {
            let mut is_cand = vec![false; self.entries.len()];
            for &c in &cands {
                is_cand[c as usize] = true;
            }
            cands = self
                .guide_rank
                .iter()
                .copied()
                .filter(|&i| is_cand[i as usize])
                .collect();
        }
        let exact_by_index = q.chars().count() <= 2;
        let mut found = 0;
        for id in cands {
            if found == want {
                break;
            }
            if seen.get(id as usize).copied().unwrap_or(false) {
                continue;
            }
            let e = &self.entries[id as usize];
            if !exact_by_index && !e.guide.contains(q) {
                continue;
            }
            found += 1;
            hits.push(SearchHit {
                index: id as usize,
                code: String::new(),
                score: TIER_GUIDE,
                field: MatchedField::Guide,
                via: MatchVia::Text,
                span: None,
            });
        }
    }

    /// ASCII query: the code, then pinyin (full, initials, mixed) over names and aliases.
    ///
    /// Hundreds of names can match a short pinyin query, so the best `limit` are kept in a
    /// bounded heap ([`TopHits`]) while scanning, and a target is only matched as far as a match
    /// could still enter it: once the heap holds `limit` hits, starts whose best possible score
    /// is below the worst kept hit are not tried ([`max_useful_start`]). With many name-prefix
    /// matches that leaves one start per name to try.
    fn search_ascii(&self, q: &str, limit: usize) -> Vec<SearchHit> {
        let qb = q.as_bytes();
        let mut q_letters = 0u32;
        for &b in qb {
            q_letters |= letter_bit(b);
        }
        let first = letter_bit(qb[0]);
        let mut q_pairs = PairSet::default();
        for w in qb.windows(2) {
            q_pairs.insert(w[0], w[1]);
        }
        let q_pairs = q_pairs.words();
        let mut top = TopHits::new(limit);
        // The last useful start per field kind for the current threshold, recomputed only when
        // the threshold rises.
        let mut bounds_for = u32::MAX;
        let mut name_max_start = None;
        let mut alias_max_start = None;
        for (idx, (e, f)) in self.entries.iter().zip(&self.filters).enumerate() {
            let pinyin_possible = f.start_mask & first != 0
                && f.letter_mask & q_letters == q_letters
                && f.pairs.contains_words(&q_pairs);
            if !pinyin_possible && f.code_first != qb[0] {
                continue;
            }
            if e.code_lc == q {
                top.offer(Candidate {
                    key: self.rank_key(TIER_CODE + 100, idx),
                    field: MatchedField::Code,
                    via: MatchVia::Text,
                    span: None,
                });
                continue;
            }
            if qb.len() >= 2 && e.code_lc.starts_with(q) {
                top.offer(Candidate {
                    key: self.rank_key(TIER_CODE, idx),
                    field: MatchedField::Code,
                    via: MatchVia::Text,
                    span: None,
                });
                continue;
            }
            if !pinyin_possible {
                continue;
            }
            let threshold = top.threshold();
            if threshold != bounds_for {
                bounds_for = threshold;
                name_max_start = max_useful_start(MatchedField::Name, threshold);
                alias_max_start = max_useful_start(MatchedField::Alias(0), threshold);
            }
            // Only a name-prefix match can still be kept, and this name cannot start one.
            if name_max_start == Some(0)
                && alias_max_start.is_none()
                && f.name_first_mask & first == 0
            {
                continue;
            }
            let mut best: Option<(u32, MatchedField, MatchVia, (usize, usize))> = None;
            for t in &e.targets {
                if best.is_some_and(|b| b.1 == MatchedField::Name) {
                    break;
                }
                let max_start = match t.field {
                    MatchedField::Name => name_max_start,
                    _ => alias_max_start,
                };
                let Some(max_start) = max_start else {
                    continue;
                };
                if let Some((s, end, used)) = self.match_target(t, qb, max_start) {
                    let whole = s == 0 && end == t.positions.len();
                    let penalty = if used.rare { RARE_READING_PENALTY } else { 0 };
                    let score = text_score(t.field, s, whole).saturating_sub(penalty);
                    if best.is_none_or(|b| score > b.0) {
                        let span = (
                            t.positions[s].orig as usize,
                            t.positions[end - 1].orig as usize + 1,
                        );
                        best = Some((score, t.field, used.via(), span));
                    }
                }
            }
            if let Some((score, field, via, span)) = best {
                top.offer(Candidate {
                    key: self.rank_key(score, idx),
                    field,
                    via,
                    span: Some(span),
                });
            }
        }
        top.into_sorted_hits()
    }

    /// The leftmost pinyin match of `q` in `t` with common readings, else the leftmost with a
    /// rarer reading: (first position, end position, how).
    ///
    /// `None` also when every match starts after `max_start` (it would score too low to be
    /// kept). Once a rare-reading match is found the search goes on past `max_start`: a later
    /// common-reading match is still the answer, and the caller then drops it by its score.
    fn match_target(
        &self,
        t: &Target,
        q: &[u8],
        max_start: usize,
    ) -> Option<(usize, usize, PinyinUse)> {
        let first = letter_bit(q[0]);
        let mut rare = None;
        for s in 0..t.positions.len() {
            if s > max_start && rare.is_none() {
                return None;
            }
            if t.positions[s].first_mask & first == 0 {
                continue;
            }
            if let Some((end, used)) = self.match_from(t, s, q, PinyinUse::default()) {
                if !used.rare {
                    return Some((s, end, used));
                }
                rare.get_or_insert((s, end, used));
            }
        }
        rare
    }

    /// Matches `q` starting at position `i`: each position takes its whole reading, its initial
    /// (`zh`/`ch`/`sh` count as initials too), or — for the last one typed — a prefix.
    fn match_from(
        &self,
        t: &Target,
        i: usize,
        q: &[u8],
        used: PinyinUse,
    ) -> Option<(usize, PinyinUse)> {
        if q.is_empty() {
            return Some((i, used));
        }
        let pos = t.positions.get(i)?;
        let range = pos.readings_start as usize..(pos.readings_start + pos.readings_len) as usize;
        for (n, &rid) in self.reading_pool[range].iter().enumerate() {
            let r = &self.syllables[rid as usize];
            let used = PinyinUse {
                rare: used.rare || n >= pos.primary_len as usize,
                ..used
            };
            let k = r.iter().zip(q).take_while(|(a, b)| a == b).count();
            if k == 0 {
                continue;
            }
            if k == q.len() {
                // The query ends inside or at the end of this reading.
                let mut u = used;
                if k == r.len() || k > 1 {
                    u.full = u.full.saturating_add(1);
                } else {
                    u.initial = u.initial.saturating_add(1);
                }
                return Some((i + 1, u));
            }
            if k == r.len() {
                let mut u = used;
                u.full = u.full.saturating_add(1);
                if let Some(m) = self.match_from(t, i + 1, &q[k..], u) {
                    return Some(m);
                }
            }
            if r.len() > 1 {
                let mut u = used;
                u.initial = u.initial.saturating_add(1);
                if let Some(m) = self.match_from(t, i + 1, &q[1..], u) {
                    return Some(m);
                }
                let retroflex = r.len() > 2 && r[1] == b'h' && matches!(r[0], b'z' | b'c' | b's');
                if retroflex
                    && k >= 2
                    && let Some(m) = self.match_from(t, i + 1, &q[2..], u)
                {
                    return Some(m);
                }
            }
        }
        None
    }

    fn code_of(&self, idx: usize) -> String {
        self.entries[idx].code.clone()
    }
}

/// Adds the letter pairs a match over `t` can produce (see `Filter::pairs`): pairs inside each
/// reading, and from the last letter a position can consume (its initial, the `h` of zh/ch/sh, or
/// its last letter) to the first letter of the next position's readings.
fn add_pairs(pairs: &mut PairSet, t: &Target, pool: &[u32], syllables: &[Box<[u8]>]) {
    let readings = |p: &Position| {
        pool[p.readings_start as usize..(p.readings_start + p.readings_len) as usize]
            .iter()
            .map(|&r| &*syllables[r as usize])
    };
    for (i, p) in t.positions.iter().enumerate() {
        let next = t.positions.get(i + 1);
        for r in readings(p) {
            for w in r.windows(2) {
                pairs.insert(w[0], w[1]);
            }
            if let Some(n) = next {
                for r2 in readings(n) {
                    pairs.insert(r[0], r2[0]);
                    pairs.insert(r[r.len() - 1], r2[0]);
                    if r.len() > 1 {
                        pairs.insert(r[1], r2[0]);
                    }
                }
            }
        }
    }
}

/// Ranking of a hit, greater is better (see [`SearchIndex::rank_key`]). A total order: the
/// item index decides every tie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RankKey {
    score: u32,
    shorter_name: Reverse<u32>,
    earlier: Reverse<usize>,
}

/// A hit before its code is filled in, ordered by its [`RankKey`] alone.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    key: RankKey,
    field: MatchedField,
    via: MatchVia,
    span: Option<(usize, usize)>,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// The best `limit` candidates seen so far: a min-heap whose top is the worst one kept, so a
/// better candidate replaces it in O(log limit) and the rest are refused in O(1).
struct TopHits {
    limit: usize,
    heap: BinaryHeap<Reverse<Candidate>>,
}

impl TopHits {
    fn new(limit: usize) -> TopHits {
        TopHits {
            limit,
            heap: BinaryHeap::with_capacity(limit.min(64)),
        }
    }

    /// The lowest score that can still be kept: 0 until `limit` candidates are held, then the
    /// score of the worst one (a candidate scoring the same may still win on the tie-break).
    fn threshold(&self) -> u32 {
        match self.heap.peek() {
            Some(Reverse(worst)) if self.heap.len() >= self.limit => worst.key.score,
            _ => 0,
        }
    }

    fn offer(&mut self, c: Candidate) {
        if self.heap.len() < self.limit {
            self.heap.push(Reverse(c));
        } else if let Some(mut worst) = self.heap.peek_mut()
            && c > worst.0
        {
            *worst = Reverse(c);
        }
    }

    /// The kept candidates as hits, best first (codes not yet filled in).
    fn into_sorted_hits(self) -> Vec<SearchHit> {
        let mut kept: Vec<Candidate> = self.heap.into_iter().map(|Reverse(c)| c).collect();
        kept.sort_unstable_by(|a, b| b.cmp(a));
        kept.into_iter()
            .map(|c| SearchHit {
                index: c.key.earlier.0,
                code: String::new(),
                score: c.key.score,
                field: c.field,
                via: c.via,
                span: c.span,
            })
            .collect()
    }
}

/// The last pinyin start position in a target of this kind of field (name, or short name and
/// alias alike) whose best possible score, `text_score` with a whole match and no rare reading,
/// reaches `threshold`; `None` if no start does. Scores never rise with the start, and are flat
/// from position 50 on, where every later start is useful too.
fn max_useful_start(field: MatchedField, threshold: u32) -> Option<usize> {
    const FLAT_FROM: usize = 50;
    if text_score(field, FLAT_FROM, true) >= threshold {
        return Some(usize::MAX);
    }
    (0..FLAT_FROM)
        .take_while(|&s| text_score(field, s, true) >= threshold)
        .last()
}

/// Score of a text or pinyin match at char/position `start` of a field.
fn text_score(field: MatchedField, start: usize, whole: bool) -> u32 {
    let early = 50u32.saturating_sub(start.min(50) as u32);
    let whole = if whole { 60 } else { 0 };
    match field {
        MatchedField::Code => TIER_CODE,
        MatchedField::Name if start == 0 => TIER_NAME_PREFIX + whole,
        MatchedField::Name => TIER_NAME + early,
        MatchedField::ShortName | MatchedField::Alias(_) => TIER_ALIAS + whole + early,
        MatchedField::Guide => TIER_GUIDE,
    }
}

fn orig_span(t: &Target, start: usize, end: usize) -> (usize, usize) {
    let s = t.orig_index.get(start).copied().unwrap_or(0) as usize;
    let e = t
        .orig_index
        .get(end.saturating_sub(1))
        .map_or(s, |&x| x as usize + 1);
    (s, e)
}

/// Items that contain every character bigram of `q` (or its single character): a superset of
/// the items containing `q`, exact when `q` has at most two characters.
fn candidates(grams: &HashMap<u64, Vec<u32>>, q: &str) -> Vec<u32> {
    let chars: Vec<char> = q.chars().collect();
    let mut lists: Vec<&Vec<u32>> = Vec::new();
    if chars.len() == 1 {
        match grams.get(&gram_key(chars[0], None)) {
            Some(l) => lists.push(l),
            None => return Vec::new(),
        }
    } else {
        for w in chars.windows(2) {
            match grams.get(&gram_key(w[0], Some(w[1]))) {
                Some(l) => lists.push(l),
                None => return Vec::new(),
            }
        }
    }
    lists.sort_by_key(|l| l.len());
    let mut out: Vec<u32> = lists[0].clone();
    for l in &lists[1..] {
        if out.is_empty() {
            break;
        }
        out.retain(|id| l.binary_search(id).is_ok());
    }
    out
}

/// The guide text searched at the lowest tier, normalised, fields separated by `\u{1}`.
fn guide_text(item: &ServiceItem) -> String {
    let mut parts: Vec<&str> = vec![
        &item.department,
        &item.implementing_body,
        &item.applicants,
        &item.result,
        item.category.label_zh(),
    ];
    parts.extend(item.legal_basis.iter().map(String::as_str));
    parts.extend(item.conditions.iter().map(String::as_str));
    parts.extend(item.life_events.iter().map(String::as_str));
    for m in &item.materials {
        parts.push(&m.name);
        parts.push(&m.notes);
    }
    for s in &item.steps {
        parts.push(&s.name);
        parts.push(&s.description);
    }
    for f in &item.faq {
        parts.push(&f.question);
        parts.push(&f.answer);
    }
    let mut out = String::new();
    for p in parts {
        if !p.is_empty() {
            out.push_str(&normalize(p));
            out.push('\u{1}');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::sample::sample_item;

    fn items() -> Vec<ServiceItem> {
        let mut pension = sample_item(
            "SB-001",
            "城乡居民基本养老保险参保登记",
            Category::SocialInsurance,
        );
        pension.short_name = Some("居民养老保险参保".into());
        pension.aliases = vec!["新农保".into()];
        let mut pension_claim =
            sample_item("SB-002", "养老保险待遇申领", Category::SocialInsurance);
        pension_claim.life_events = vec!["退休养老".into()];
        let mut bank = sample_item(
            "SB-003",
            "社会保障卡银行账户变更",
            Category::SocialInsurance,
        );
        bank.life_events = vec!["社保卡".into()];
        let mut disabled = sample_item("CL-001", "重度残疾人护理补贴申请", Category::Disability);
        disabled.life_events = vec!["残疾".into()];
        let mut guide_only = sample_item("MZ-001", "高龄津贴申领", Category::CivilAffairs);
        guide_only
            .conditions
            .push("未领取养老护理补贴的老年人".into());
        vec![pension, pension_claim, bank, disabled, guide_only]
    }

    fn codes(hits: &[SearchHit]) -> Vec<&str> {
        hits.iter().map(|h| h.code.as_str()).collect()
    }

    #[test]
    fn chinese_full_pinyin_and_initials_all_find_the_pension_item() {
        let idx = SearchIndex::build(&items());
        for q in [
            "养老",
            "yanglao",
            "ylbx",
            "YangLao BaoXian",
            "cxjm",
            "yanglbx",
            "ｙｌｂｘ",
        ] {
            let hits = idx.search(q, 10);
            assert!(codes(&hits).contains(&"SB-001"), "{q}: {hits:?}");
        }
        let h = &idx.search("ylbx", 10)[0];
        assert_eq!(h.via, MatchVia::Initials);
        let h = idx.search("yanglao", 10);
        assert!(h.iter().all(|h| h.via == MatchVia::FullPinyin), "{h:?}");
    }

    #[test]
    fn ranking_is_name_prefix_then_name_then_alias_then_guide() {
        let idx = SearchIndex::build(&items());
        let hits = idx.search("养老", 10);
        // SB-002 starts with 养老; SB-001 has it inside the name; MZ-001 only in its guide.
        assert_eq!(codes(&hits), vec!["SB-002", "SB-001", "MZ-001"]);
        assert_eq!(hits[0].field, MatchedField::Name);
        assert_eq!(hits[0].span, Some((0, 2)));
        assert_eq!(hits[1].span, Some((6, 8)));
        assert_eq!(hits[2].field, MatchedField::Guide);
        let alias = idx.search("新农保", 10);
        assert_eq!(codes(&alias), vec!["SB-001"]);
        assert_eq!(alias[0].field, MatchedField::Alias(0));
        let alias = idx.search("xnb", 10);
        assert_eq!(codes(&alias), vec!["SB-001"]);
    }

    #[test]
    fn polyphonic_characters_match_every_reading() {
        let idx = SearchIndex::build(&items());
        assert_eq!(codes(&idx.search("yinhang", 10)), vec!["SB-003"]);
        assert_eq!(codes(&idx.search("yh", 10)), vec!["SB-003"]);
        assert_eq!(codes(&idx.search("zhongdu", 10)), vec!["CL-001"]);
        assert_eq!(codes(&idx.search("chongdu", 10)), vec!["CL-001"]);
        assert_eq!(codes(&idx.search("zhdcj", 10)), vec!["CL-001"]);
    }

    #[test]
    fn rarer_readings_rank_below_common_ones() {
        let items = vec![
            sample_item("A-1", "挂失和补换申请", Category::SocialInsurance),
            sample_item("A-2", "乡村医护人员登记", Category::Health),
        ];
        let idx = SearchIndex::build(&items);
        // 失和 read as yi-he (失's rare reading) starts earlier than 医护 yi-hu, yet ranks lower.
        assert_eq!(codes(&idx.search("yh", 10)), vec!["A-2", "A-1"]);
    }

    #[test]
    fn code_query_comes_first_and_nonsense_finds_nothing() {
        let idx = SearchIndex::build(&items());
        assert_eq!(idx.search("sb-003", 10)[0].code, "SB-003");
        assert!(idx.search("qqqzzz", 10).is_empty());
        assert!(idx.search("   ", 10).is_empty());
        assert!(idx.search("火箭", 10).is_empty());
        assert_eq!(idx.search("养老", 1).len(), 1);
    }

    #[test]
    fn browse_by_category_and_life_event() {
        let idx = SearchIndex::build(&items());
        assert_eq!(idx.by_category(Category::SocialInsurance), &[0, 1, 2]);
        assert_eq!(idx.by_category(Category::Veterans), &[] as &[usize]);
        assert_eq!(idx.by_life_event("残疾"), &[3]);
        let names: Vec<&str> = idx.life_events().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, vec!["退休养老", "社保卡", "残疾"]);
        assert_eq!(idx.by_life_event("退休养老"), &[0, 1, 4]);
        assert_eq!(
            idx.categories(),
            vec![
                (Category::SocialInsurance, 3),
                (Category::CivilAffairs, 1),
                (Category::Disability, 1)
            ]
        );
    }

    #[test]
    fn a_smaller_limit_returns_the_head_of_the_full_ranking() {
        let (_, index) = &*GENERATED;
        // A small limit lets pinyin search skip starts and names that cannot enter the best
        // `limit`; that must never change which hits come first. Includes rarer readings
        // (`yh`: 行 as hang) and code prefixes.
        for q in [
            "养老", "yanglao", "ylbx", "申请", "sq", "c", "canjiren", "cjrz", "zdshbz", "yh",
            "gen-001",
        ] {
            let all = index.search(q, usize::MAX);
            assert!(all.len() > 5, "{q}");
            for limit in [1, 5, 20] {
                assert_eq!(
                    index.search(q, limit),
                    all[..limit.min(all.len())].to_vec(),
                    "{q} limit {limit}"
                );
            }
        }
    }

    static GENERATED: std::sync::LazyLock<(crate::catalog::Catalog, SearchIndex)> =
        std::sync::LazyLock::new(|| {
            let catalog = crate::catalog::sample::generated_catalog(200);
            let index = SearchIndex::build(&catalog.items);
            (catalog, index)
        });

    proptest::proptest! {
        /// Any way of typing a run of a name — each character as its full syllable (any reading)
        /// or its initial, the last one possibly cut short — finds the item.
        #[test]
        fn any_typing_of_a_name_finds_it(
            item in 0usize..200,
            start in 0usize..6,
            len in 1usize..6,
            choices in proptest::collection::vec((0usize..4, proptest::bool::ANY), 6),
            cut in 1usize..4,
        ) {
            let (catalog, index) = &*GENERATED;
            let chars: Vec<char> = catalog.items[item].name.chars().filter(|c| c.to_pinyin_multi().is_some()).collect();
            let start = start.min(chars.len() - 1);
            let end = (start + len).min(chars.len());
            let mut q = String::new();
            for (k, c) in chars[start..end].iter().enumerate() {
                let readings: Vec<&str> = c.to_pinyin_multi().unwrap().into_iter().map(|p| p.plain()).collect();
                let r = readings[choices[k].0 % readings.len()].replace('ü', "v");
                let last = k + 1 == end - start;
                if choices[k].1 {
                    q.push_str(&r[..1]);
                } else if last {
                    q.push_str(&r[..cut.min(r.len())]);
                } else {
                    q.push_str(&r);
                }
            }
            let hits = index.search(&q, usize::MAX);
            proptest::prop_assert!(hits.iter().any(|h| h.index == item), "{} not found by {:?}", catalog.items[item].name, q);
        }
    }
}
