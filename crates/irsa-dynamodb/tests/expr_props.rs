//! Property tests of the expression parser (`irsa_dynamodb::parse_condition` and its siblings):
//! the claim in its docs that every syntax tree prints (`Display`, `print_projection`) to an
//! expression that parses back to the same tree, and that the parser never panics and refuses
//! expressions over `MAX_EXPRESSION_BYTES`.
//!
//! * (a) generated trees print to text that parses to an equal tree;
//! * (b) any text the parser accepts (random token strings, and near-valid text with
//!   random parentheses, keyword case, whitespace and token mutations) re-prints to text
//!   that parses to the same tree, and printing is idempotent;
//! * (c) arbitrary strings (any Unicode, up to 5000 bytes) never panic, and anything over
//!   4096 bytes is refused.
//!
//! What the properties or their boundaries once found is kept at the end as tests with the
//! minimal inputs (printing at the nesting and size limits, placeholder length,
//! `attribute_type`'s type).

use irsa_dynamodb::{
    Comparator, Condition, ExprError, Function, MAX_EXPRESSION_BYTES, Name, Operand, Path, Section,
    SetValue, Step, Update, parse_condition, parse_projection, parse_update, print_projection,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

/// Cases per property: a few seconds in a debug build.
const CASES: u32 = 512;

// ---------------------------------------------------------------------------------------
// (a) Syntax trees

/// Plain attribute names that are not reserved words. `contains` and `list_append` are
/// function names (only a function when followed by `(`).
const IDENTS: &[&str] = &[
    "a",
    "b",
    "x_1",
    "_p",
    "UserId",
    "GameTitle",
    "Scores",
    "contains",
    "list_append",
];
/// Not a reserved word, but a keyword of update expressions: a plain name in conditions
/// and projections only.
const NON_UPDATE_IDENTS: &[&str] = &["remove"];
const PLACEHOLDERS: &[&str] = &["#n1", "#n2", "#P"];
const VALUES: &[&str] = &[":v1", ":v2", ":v3"];

fn name(update: bool) -> BoxedStrategy<Name> {
    let mut idents = IDENTS.to_vec();
    if !update {
        idents.extend_from_slice(NON_UPDATE_IDENTS);
    }
    prop_oneof![
        3 => select(idents).prop_map(|s| Name::Ident(s.to_owned())),
        1 => select(PLACEHOLDERS).prop_map(|s| Name::Placeholder(s.to_owned())),
    ]
    .boxed()
}

fn step(update: bool) -> BoxedStrategy<Step> {
    prop_oneof![
        4 => name(update).prop_map(Step::Attr),
        2 => (0u32..3).prop_map(Step::Index),
        1 => any::<u32>().prop_map(Step::Index),
    ]
    .boxed()
}

/// Mostly short paths; now and then one at the 32-level limit (31 steps below the head).
fn path(update: bool) -> BoxedStrategy<Path> {
    let steps = prop_oneof![
        19 => vec(step(update), 0..4),
        1 => vec(step(update), 28..32),
    ];
    (name(update), steps)
        .prop_map(|(head, steps)| Path { head, steps })
        .boxed()
}

fn value_name() -> impl Strategy<Value = String> {
    select(VALUES).prop_map(str::to_owned)
}

fn value() -> BoxedStrategy<Operand> {
    value_name().prop_map(Operand::Value).boxed()
}

fn call(name: &str, args: Vec<Operand>) -> Function {
    Function {
        name: name.to_owned(),
        args,
    }
}

/// Condition operands: a path, a `:value` or `size(path)`.
fn cond_operand() -> BoxedStrategy<Operand> {
    prop_oneof![
        3 => path(false).prop_map(Operand::Path),
        2 => value(),
        1 => path(false).prop_map(|p| Operand::Function(call("size", vec![Operand::Path(p)]))),
    ]
    .boxed()
}

fn comparator() -> impl Strategy<Value = Comparator> {
    select(vec![
        Comparator::Eq,
        Comparator::Ne,
        Comparator::Lt,
        Comparator::Le,
        Comparator::Gt,
        Comparator::Ge,
    ])
}

fn same_path(a: &Operand, b: &Operand) -> bool {
    matches!((a, b), (Operand::Path(x), Operand::Path(y)) if x == y)
}

fn leaf_condition() -> BoxedStrategy<Condition> {
    prop_oneof![
        4 => (cond_operand(), comparator(), cond_operand())
            // By design (as DynamoDB): "The first operand must be distinct from the
            // remaining operands for this operator or function".
            .prop_filter("a path compared with itself", |(a, _, b)| !same_path(a, b))
            .prop_map(|(a, c, b)| Condition::Compare(a, c, b)),
        1 => (cond_operand(), cond_operand(), cond_operand())
            .prop_map(|(a, b, c)| Condition::Between(a, b, c)),
        1 => (cond_operand(), vec(cond_operand(), 1..5)).prop_map(|(a, l)| Condition::In(a, l)),
        1 => (select(vec!["attribute_exists", "attribute_not_exists"]), path(false))
            .prop_map(|(f, p)| Condition::Function(call(f, vec![Operand::Path(p)]))),
        1 => (select(vec!["begins_with", "contains"]), path(false), cond_operand())
            .prop_map(|(f, p, o)| Condition::Function(call(f, vec![Operand::Path(p), o]))),
        1 => (path(false), value())
            .prop_map(|(p, v)| Condition::Function(call("attribute_type", vec![Operand::Path(p), v]))),
    ]
    .boxed()
}

/// Conditions at most 4 levels of `AND`/`OR`/`NOT` deep.
fn condition() -> impl Strategy<Value = Condition> {
    leaf_condition().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Condition::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Condition::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Condition::Not(Box::new(a))),
        ]
    })
}

/// Update operands: a path, a `:value`, `if_not_exists(path, operand)` and
/// `list_append(operand, operand)`, nested at most 3 deep.
fn update_operand() -> BoxedStrategy<Operand> {
    let leaf = prop_oneof![
        2 => path(true).prop_map(Operand::Path),
        1 => value(),
    ];
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (path(true), inner.clone()).prop_map(|(p, o)| Operand::Function(call(
                "if_not_exists",
                vec![Operand::Path(p), o]
            ))),
            (inner.clone(), inner)
                .prop_map(|(a, b)| Operand::Function(call("list_append", vec![a, b]))),
        ]
    })
    .boxed()
}

fn set_value() -> impl Strategy<Value = SetValue> {
    prop_oneof![
        2 => update_operand().prop_map(SetValue::Operand),
        1 => (update_operand(), update_operand()).prop_map(|(a, b)| SetValue::Plus(a, b)),
        1 => (update_operand(), update_operand()).prop_map(|(a, b)| SetValue::Minus(a, b)),
    ]
}

/// Whether two paths overlap (one is a prefix of the other) or conflict (a map key where
/// the other has a list index): DynamoDB refuses such pairs among an update's targets and
/// in a projection ("Two document paths overlap/conflict with each other").
fn clash(a: &Path, b: &Path) -> bool {
    if a.head != b.head {
        return false;
    }
    for (x, y) in a.steps.iter().zip(&b.steps) {
        match (x, y) {
            (Step::Attr(_), Step::Index(_)) | (Step::Index(_), Step::Attr(_)) => return true,
            _ if x != y => return false,
            _ => {}
        }
    }
    true
}

/// Keeps `p` unless it clashes with a path already kept.
fn keep(kept: &mut Vec<Path>, p: &Path) -> bool {
    if kept.iter().any(|k| clash(k, p)) {
        false
    } else {
        kept.push(p.clone());
        true
    }
}

/// Updates: 1 to 4 sections in any order, each with 1 to 3 actions, targets pairwise
/// free of overlaps and conflicts (clashing targets are dropped while generating, an
/// emptied section with them).
fn update() -> impl Strategy<Value = Update> {
    let sections = Just(vec![
        Section::Set,
        Section::Remove,
        Section::Add,
        Section::Delete,
    ])
    .prop_shuffle();
    (
        sections,
        1usize..=4,
        vec((path(true), set_value()), 1..4),
        vec(path(true), 1..4),
        vec((path(true), value_name()), 1..4),
        vec((path(true), value_name()), 1..4),
    )
        .prop_map(|(mut order, n, set, remove, add, delete)| {
            order.truncate(n);
            let mut kept = Vec::new();
            // In `Update::targets` order, so the first target is always kept.
            let mut u = Update::default();
            if order.contains(&Section::Set) {
                let l: Vec<_> = set
                    .into_iter()
                    .filter(|(p, _)| keep(&mut kept, p))
                    .collect();
                u.set = (!l.is_empty()).then_some(l);
            }
            if order.contains(&Section::Remove) {
                let l: Vec<_> = remove.into_iter().filter(|p| keep(&mut kept, p)).collect();
                u.remove = (!l.is_empty()).then_some(l);
            }
            if order.contains(&Section::Add) {
                let l: Vec<_> = add
                    .into_iter()
                    .filter(|(p, _)| keep(&mut kept, p))
                    .collect();
                u.add = (!l.is_empty()).then_some(l);
            }
            if order.contains(&Section::Delete) {
                let l: Vec<_> = delete
                    .into_iter()
                    .filter(|(p, _)| keep(&mut kept, p))
                    .collect();
                u.delete = (!l.is_empty()).then_some(l);
            }
            u.order = order
                .into_iter()
                .filter(|s| match s {
                    Section::Set => u.set.is_some(),
                    Section::Remove => u.remove.is_some(),
                    Section::Add => u.add.is_some(),
                    Section::Delete => u.delete.is_some(),
                })
                .collect();
            u
        })
}

/// Projections: 1 to 5 paths, pairwise free of overlaps and conflicts.
fn projection() -> impl Strategy<Value = Vec<Path>> {
    vec(path(false), 1..6).prop_map(|paths| {
        let mut kept = Vec::new();
        for p in &paths {
            keep(&mut kept, p);
        }
        kept
    })
}

proptest! {
    #![proptest_config(Config { cases: CASES, ..Config::default() })]

    #[test]
    fn condition_trees_print_and_parse_back(c in condition()) {
        let printed = c.to_string();
        prop_assert_eq!(parse_condition(&printed), Ok(c), "printed: {}", printed);
    }

    #[test]
    fn update_trees_print_and_parse_back(u in update()) {
        let printed = u.to_string();
        prop_assert_eq!(parse_update(&printed), Ok(u), "printed: {}", printed);
    }

    #[test]
    fn projections_print_and_parse_back(paths in projection()) {
        let printed = print_projection(&paths);
        prop_assert_eq!(parse_projection(&printed), Ok(paths), "printed: {}", printed);
    }
}

// ---------------------------------------------------------------------------------------
// (b) Accepted text

/// The token alphabet of random expressions.
const TOKENS: &[&str] = &[
    "a",
    "b",
    "UserId",
    "GameTitle",
    "remove",
    "Name", // reserved
    "#n1",
    "#n2",
    ":v1",
    ":v2",
    ":v3",
    "0",
    "1",
    "42",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "and",
    "Or",
    "not",
    "set",
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
    "SIZE",
    "if_not_exists",
    "list_append",
];

/// Separators; the empty one lets neighbouring tokens run together.
const SPACES: &[&str] = &["", " ", " ", " ", " ", "  ", "\t", "\n", "\r\n"];

fn token() -> impl Strategy<Value = String> {
    select(TOKENS).prop_map(str::to_owned)
}

fn join(tokens: Vec<(String, &'static str)>) -> String {
    let mut s = String::new();
    for (t, sep) in tokens {
        s.push_str(&t);
        s.push_str(sep);
    }
    s
}

/// Random token strings.
fn token_soup() -> impl Strategy<Value = String> {
    vec((token(), select(SPACES)), 1..24).prop_map(join)
}

type Tokens = Vec<String>;

fn toks(parts: &[&str]) -> Tokens {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

fn cat(parts: Vec<Tokens>) -> Tokens {
    parts.into_iter().flatten().collect()
}

/// `x`, `( x )` or now and then `( ( x ) )` (redundant).
fn parens(inner: BoxedStrategy<Tokens>) -> BoxedStrategy<Tokens> {
    (
        inner,
        prop_oneof![12 => Just(0usize), 4 => Just(1), 1 => Just(2)],
    )
        .prop_map(|(t, n)| {
            let open = vec!["(".to_owned(); n];
            let close = vec![")".to_owned(); n];
            cat(vec![open, t, close])
        })
        .boxed()
}

fn keyword(word: &'static str) -> impl Strategy<Value = String> {
    let lower = word.to_ascii_lowercase();
    let mixed: String = word
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 1 {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect();
    select(vec![word.to_owned(), word.to_owned(), lower, mixed])
}

fn text_name(update: bool) -> BoxedStrategy<Tokens> {
    let mut names = IDENTS.to_vec();
    names.extend_from_slice(PLACEHOLDERS);
    if !update {
        names.extend_from_slice(NON_UPDATE_IDENTS);
    }
    prop_oneof![
        30 => select(names),
        1 => select(vec!["Name", "size", "remove"]), // reserved, or a keyword of updates
    ]
    .prop_map(|s| toks(&[s]))
    .boxed()
}

fn text_path(update: bool) -> BoxedStrategy<Tokens> {
    let step = prop_oneof![
        8 => text_name(update).prop_map(|n| cat(vec![toks(&["."]), n])),
        4 => select(vec!["0", "1", "007", "4294967295"]).prop_map(|i| toks(&["[", i, "]"])),
        1 => select(vec!["4294967296", "x", ""]).prop_map(|i| toks(&["[", i, "]"])),
    ];
    (text_name(update), vec(step, 0..3))
        .prop_map(|(head, steps)| cat(std::iter::once(head).chain(steps).collect()))
        .boxed()
}

fn text_value() -> BoxedStrategy<Tokens> {
    select(VALUES).prop_map(|v| toks(&[v])).boxed()
}

fn text_cond_operand() -> BoxedStrategy<Tokens> {
    let bare = prop_oneof![
        3 => text_path(false),
        2 => text_value(),
        1 => text_path(false).prop_map(|p| cat(vec![toks(&["size", "("]), p, toks(&[")"])])),
    ]
    .boxed();
    parens(bare)
}

fn text_leaf_condition() -> BoxedStrategy<Tokens> {
    let op = text_cond_operand;
    let cmp = select(vec!["=", "<>", "<", "<=", ">", ">="]);
    // Mostly with the right number of arguments.
    let function = prop_oneof![
        4 => (select(vec!["attribute_exists", "attribute_not_exists"]), vec(op(), 1..2)),
        4 => (select(vec!["attribute_type", "begins_with", "contains"]), vec(op(), 2..3)),
        1 => (
            select(vec![
                "attribute_exists",
                "attribute_type",
                "begins_with",
                "contains",
                "size",
            ]),
            vec(op(), 1..4),
        ),
    ]
    .prop_map(|(f, args)| {
        let mut t = toks(&[f, "("]);
        for (i, a) in args.into_iter().enumerate() {
            if i > 0 {
                t.push(",".to_owned());
            }
            t.extend(a);
        }
        t.push(")".to_owned());
        t
    });
    prop_oneof![
        4 => (op(), cmp, op()).prop_map(|(a, c, b)| cat(vec![a, toks(&[c]), b])),
        1 => (op(), keyword("BETWEEN"), op(), keyword("AND"), op())
            .prop_map(|(a, k1, b, k2, c)| cat(vec![a, vec![k1], b, vec![k2], c])),
        1 => (op(), keyword("IN"), vec(op(), 1..4)).prop_map(|(a, k, list)| {
            let mut t = cat(vec![a, vec![k, "(".to_owned()]]);
            for (i, o) in list.into_iter().enumerate() {
                if i > 0 {
                    t.push(",".to_owned());
                }
                t.extend(o);
            }
            t.push(")".to_owned());
            t
        }),
        2 => function,
    ]
    .boxed()
}

fn text_condition() -> BoxedStrategy<Tokens> {
    text_leaf_condition()
        .prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (inner.clone(), keyword("AND"), inner.clone()).prop_map(|(a, k, b)| cat(vec![
                    a,
                    vec![k],
                    b
                ])),
                (inner.clone(), keyword("OR"), inner.clone()).prop_map(|(a, k, b)| cat(vec![
                    a,
                    vec![k],
                    b
                ])),
                (keyword("NOT"), inner.clone()).prop_map(|(k, a)| cat(vec![vec![k], a])),
                parens(inner),
            ]
        })
        .boxed()
}

fn text_update_operand() -> BoxedStrategy<Tokens> {
    let leaf = prop_oneof![2 => text_path(true), 1 => text_value()].boxed();
    parens(leaf)
        .prop_recursive(2, 6, 2, |inner| {
            (
                prop_oneof![
                    4 => select(vec!["if_not_exists", "list_append"]),
                    1 => Just("size"), // not an update function
                ],
                inner.clone(),
                inner,
            )
                .prop_map(|(f, a, b)| cat(vec![toks(&[f, "("]), a, toks(&[","]), b, toks(&[")"])]))
        })
        .boxed()
}

fn text_update() -> BoxedStrategy<Tokens> {
    let set_action = (
        text_path(true),
        text_update_operand(),
        select(vec!["", "", "+", "-"]),
        text_update_operand(),
        prop_oneof![3 => Just(false), 1 => Just(true)],
    )
        .prop_map(|(p, a, op, b, wrap)| {
            let value = if op.is_empty() {
                a
            } else {
                cat(vec![a, toks(&[op]), b])
            };
            let value = if wrap {
                cat(vec![toks(&["("]), value, toks(&[")"])])
            } else {
                value
            };
            cat(vec![p, toks(&["="]), value])
        });
    let value_action = (text_path(true), text_value()).prop_map(|(p, v)| cat(vec![p, v]));
    let list = |item: BoxedStrategy<Tokens>| {
        vec(item, 1..3).prop_map(|items| {
            let mut t = Vec::new();
            for (i, it) in items.into_iter().enumerate() {
                if i > 0 {
                    t.push(",".to_owned());
                }
                t.extend(it);
            }
            t
        })
    };
    let sections = (
        (keyword("SET"), list(set_action.boxed())).prop_map(|(k, l)| cat(vec![vec![k], l])),
        (keyword("REMOVE"), list(text_path(true))).prop_map(|(k, l)| cat(vec![vec![k], l])),
        (keyword("ADD"), list(value_action.clone().boxed()))
            .prop_map(|(k, l)| cat(vec![vec![k], l])),
        (keyword("DELETE"), list(value_action.boxed())).prop_map(|(k, l)| cat(vec![vec![k], l])),
    );
    // 1 to 3 distinct sections in any order; now and then the first one again (refused).
    (
        sections,
        Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
        1usize..=3,
        prop_oneof![9 => Just(false), 1 => Just(true)],
    )
        .prop_map(|((set, remove, add, delete), order, n, repeat)| {
            let all = [set, remove, add, delete];
            let mut picked: Vec<usize> = order.into_iter().take(n).collect();
            if repeat {
                picked.push(picked[0]);
            }
            cat(picked.into_iter().map(|i| all[i].clone()).collect())
        })
        .boxed()
}

fn text_projection() -> BoxedStrategy<Tokens> {
    vec(text_path(false), 1..5)
        .prop_map(|paths| {
            let mut t = Vec::new();
            for (i, p) in paths.into_iter().enumerate() {
                if i > 0 {
                    t.push(",".to_owned());
                }
                t.extend(p);
            }
            t
        })
        .boxed()
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, String),
    Remove(usize),
    Replace(usize, String),
}

/// Near-valid text: a grammatical token list with 0 to 2 token mutations, joined by
/// random whitespace (sometimes none, which runs tokens together).
fn near_valid() -> impl Strategy<Value = String> {
    let base = prop_oneof![
        3 => text_condition(),
        3 => text_update(),
        1 => text_projection(),
    ];
    let mutation = prop_oneof![
        (any::<usize>(), token()).prop_map(|(i, t)| Mutation::Insert(i, t)),
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), token()).prop_map(|(i, t)| Mutation::Replace(i, t)),
    ];
    let mutations = prop_oneof![3 => Just(Vec::new()), 1 => vec(mutation, 1..3)];
    let spaces = vec(
        prop_oneof![12 => Just(" "), 1 => Just(""), 1 => select(SPACES)],
        64,
    );
    (base, mutations, spaces).prop_map(|(mut t, mutations, spaces)| {
        for m in mutations {
            let n = t.len();
            match m {
                Mutation::Insert(i, tok) => t.insert(i % (n + 1), tok),
                Mutation::Remove(i) if n > 1 => {
                    t.remove(i % n);
                }
                Mutation::Replace(i, tok) if n > 0 => t[i % n] = tok,
                _ => {}
            }
        }
        let seps = spaces.into_iter().cycle();
        join(t.into_iter().zip(seps).collect())
    })
}

fn accepted_text() -> impl Strategy<Value = String> {
    prop_oneof![1 => token_soup(), 4 => near_valid()]
}

/// For each parser that accepts `src`: the printed tree parses to the same tree, and
/// printing that tree gives the same text.
fn check_round_trips(src: &str) -> Result<(), TestCaseError> {
    if let Ok(c) = parse_condition(src) {
        let printed = c.to_string();
        let again = parse_condition(&printed);
        prop_assert_eq!(
            again.as_ref(),
            Ok(&c),
            "condition {:?} printed {:?}",
            src,
            printed
        );
        prop_assert_eq!(
            again.map(|c| c.to_string()),
            Ok(printed.clone()),
            "{:?}",
            src
        );
    }
    if let Ok(u) = parse_update(src) {
        let printed = u.to_string();
        let again = parse_update(&printed);
        prop_assert_eq!(
            again.as_ref(),
            Ok(&u),
            "update {:?} printed {:?}",
            src,
            printed
        );
        prop_assert_eq!(
            again.map(|u| u.to_string()),
            Ok(printed.clone()),
            "{:?}",
            src
        );
    }
    if let Ok(p) = parse_projection(src) {
        let printed = print_projection(&p);
        let again = parse_projection(&printed);
        prop_assert_eq!(
            again.as_ref(),
            Ok(&p),
            "projection {:?} printed {:?}",
            src,
            printed
        );
        prop_assert_eq!(
            again.map(|p| print_projection(&p)),
            Ok(printed.clone()),
            "{:?}",
            src
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: CASES, ..Config::default() })]

    #[test]
    fn accepted_text_reprints_to_the_same_tree(src in accepted_text()) {
        check_round_trips(&src)?;
    }
}

/// (b) is not vacuous: at least 5% of the generated text is accepted by each parser (about
/// 25 accepted conditions, updates and projections per run of the property).
#[test]
fn generated_text_is_often_accepted() {
    let mut runner = TestRunner::deterministic();
    let strategy = accepted_text();
    let n = 2000;
    let (mut cond, mut upd, mut proj) = (0, 0, 0);
    for _ in 0..n {
        let src = strategy.new_tree(&mut runner).unwrap().current();
        cond += usize::from(parse_condition(&src).is_ok());
        upd += usize::from(parse_update(&src).is_ok());
        proj += usize::from(parse_projection(&src).is_ok());
    }
    eprintln!("accepted of {n}: condition {cond}, update {upd}, projection {proj}");
    assert!(cond * 20 >= n, "conditions accepted: {cond} of {n}");
    assert!(upd * 20 >= n, "updates accepted: {upd} of {n}");
    assert!(proj * 20 >= n, "projections accepted: {proj} of {n}");
}

/// The shapes the gateway's authorization depends on, among them the parenthesized key
/// conditions that once bypassed the key-condition check.
#[test]
fn known_shapes_round_trip() {
    for src in [
        "(UserId = :u AND GameTitle > :g)",
        "(UserId) = :u",
        "(UserId) = :u AND (GameTitle) > :g",
        "((UserId = :u) AND GameTitle > :g)",
        ":u = (UserId)",
        "NOT NOT a = :v",
        "a = :v AND b = :w AND c = :x",
        "a BETWEEN :x AND :y AND b IN (:z)",
        "begins_with((a), :p) OR attribute_type(#n1, :t)",
        "SET a = (b + :v), c = (:w) REMOVE d[1] ADD e :e DELETE f :f",
        "remove a, b.c",
        "a, #n1.b[2], remove",
    ] {
        let accepted = parse_condition(src).is_ok()
            || parse_update(src).is_ok()
            || parse_projection(src).is_ok();
        assert!(accepted, "{src:?} refused");
        check_round_trips(src).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// (c) Arbitrary strings

fn truncate_bytes(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Any Unicode up to 5000 bytes: arbitrary chars, token text, and accepted expressions
/// padded past the limit with whitespace or more conditions.
fn arbitrary_text() -> impl Strategy<Value = String> {
    let chars = |max: usize| vec(any::<char>(), 0..max).prop_map(String::from_iter);
    let padded = (
        condition().prop_map(|c| c.to_string()),
        4000usize..=5000,
        select(vec![" ", "\n", " AND a = :v1"]),
    )
        .prop_map(|(mut s, len, pad)| {
            while s.len() < len {
                s.push_str(pad);
            }
            s
        });
    let long_tokens = vec((token(), select(SPACES)), 200..1200).prop_map(join);
    prop_oneof![
        2 => any::<String>(),
        2 => chars(64),
        2 => chars(2500),
        2 => token_soup(),
        2 => near_valid(),
        2 => long_tokens,
        3 => padded,
    ]
    .prop_map(|s| truncate_bytes(s, 5000))
}

fn too_long(r: Result<impl std::fmt::Debug, ExprError>) -> bool {
    matches!(r, Err(ExprError(m)) if m.starts_with("Expression size has exceeded the maximum allowed size"))
}

proptest! {
    #![proptest_config(Config { cases: CASES, ..Config::default() })]

    #[test]
    fn arbitrary_text_never_panics_and_long_text_is_refused(src in arbitrary_text()) {
        prop_assert!(src.len() <= 5000);
        let (c, u, p) = (parse_condition(&src), parse_update(&src), parse_projection(&src));
        if src.len() > MAX_EXPRESSION_BYTES {
            prop_assert!(too_long(c), "{} bytes", src.len());
            prop_assert!(too_long(u), "{} bytes", src.len());
            prop_assert!(too_long(p), "{} bytes", src.len());
        }
    }
}

#[test]
fn size_limit_is_exactly_4096_bytes() {
    assert_eq!(MAX_EXPRESSION_BYTES, 4096);
    let pad = |s: &str, len: usize| format!("{s}{}", " ".repeat(len - s.len()));
    assert!(parse_condition(&pad("a = :v", 4096)).is_ok());
    assert!(parse_update(&pad("SET a = :v", 4096)).is_ok());
    assert!(parse_projection(&pad("a", 4096)).is_ok());
    assert!(too_long(parse_condition(&pad("a = :v", 4097))));
    assert!(too_long(parse_update(&pad("SET a = :v", 4097))));
    assert!(too_long(parse_projection(&pad("a", 4097))));
    // Counted in bytes, not characters: 1366 three-byte characters are 4098 bytes.
    let wide = format!("a = :v {}", "\u{3000}".repeat(1366));
    assert!(too_long(parse_condition(&wide)));
}

// ---------------------------------------------------------------------------------------
// Bugs found: minimal inputs, kept failing until src/ is fixed.

/// Asserts that `src` parses and that its printed tree parses back to the same tree.
fn assert_condition_round_trips(src: &str) {
    let c = parse_condition(src).unwrap_or_else(|e| panic!("{src:?} refused: {e}"));
    let printed = c.to_string();
    assert_eq!(
        parse_condition(&printed),
        Ok(c),
        "input ({} bytes) parses, but its printed form ({} bytes) does not give it back",
        src.len(),
        printed.len()
    );
}

/// `NOT NOT … a = :v` counts one nesting level per `NOT`; the printer writes
/// `NOT (NOT (… a = :v))`, two levels per `NOT`, so 33 `NOT`s (64 allowed) print to an
/// expression the parser refuses as "nested too deeply".
#[test]
fn not_chains_print_within_the_nesting_limit() {
    assert!(parse_condition(&format!("{}a = :v", "NOT ".repeat(32))).is_ok());
    assert_condition_round_trips(&format!("{}a = :v", "NOT ".repeat(33)));
}

/// `AND`/`OR` chains nest to the right without counting against MAX_NESTING, but the
/// printer parenthesizes every compound child, so `c1 AND c2 AND … c67` prints as
/// `c1 AND (c2 AND (… c67))`, 65 levels, and is refused.
#[test]
fn and_chains_print_within_the_nesting_limit() {
    assert_condition_round_trips(&vec!["a = :v"; 66].join(" AND "));
    assert_condition_round_trips(&vec!["a = :v"; 67].join(" AND "));
}

#[test]
fn or_chains_print_within_the_nesting_limit() {
    assert_condition_round_trips(&vec!["a = :v"; 67].join(" OR "));
}

/// The printer adds whitespace (`a=:v` → `a = :v`, `a,b` → `a, b`), so an accepted
/// expression close to 4096 bytes prints to one over the limit, which is refused.
#[test]
fn printing_never_grows_past_the_size_limit() {
    let src = format!("a={}", "b".repeat(4094));
    assert_eq!(src.len(), MAX_EXPRESSION_BYTES);
    assert_condition_round_trips(&src);
}

#[test]
fn printing_never_grows_past_the_size_limit_update_and_projection() {
    let u = format!("SET a={}", "b".repeat(4090));
    let parsed = parse_update(&u).unwrap();
    assert_eq!(parse_update(&parsed.to_string()), Ok(parsed));
    let p = format!("a,{}", "b".repeat(4094));
    let parsed = parse_projection(&p).unwrap();
    assert_eq!(parse_projection(&print_projection(&parsed)), Ok(parsed));
}

/// DynamoDB's documented grammar names a path as the first argument of `begins_with`,
/// `contains` and `attribute_type`, but DynamoDB (and dynalite, written against it) only
/// type-checks the operands: a value there is accepted. The parser follows the server;
/// `walk` still reports every path, so `dynamodb:Attributes` is complete either way.
#[test]
fn functions_take_any_operand_first_as_dynamodb_does() {
    for src in [
        "begins_with(:p, a)",
        "contains(:v, a)",
        "begins_with(size(a), :p)",
        "contains(size(a), :v)",
    ] {
        assert!(parse_condition(src).is_ok(), "{src:?} refused");
    }
}

/// The same page: `attribute_type (path, type)`, "You must use an expression attribute
/// value for the type parameter". The parser accepts any operand there.
#[test]
fn attribute_type_takes_a_value_as_its_type() {
    for src in ["attribute_type(a, b)", "attribute_type(a, size(b))"] {
        assert!(parse_condition(src).is_err(), "{src:?} accepted");
    }
}

/// DynamoDB's documented limits ("Constraints", Expression parameters): "The maximum
/// length of any expression attribute name or expression attribute value is 255 bytes".
/// The parser accepts placeholders of any length (up to the 4096-byte expression).
#[test]
fn placeholders_over_255_bytes_are_refused() {
    let value = format!(":{}", "v".repeat(255));
    let name = format!("#{}", "n".repeat(255));
    assert_eq!(value.len(), 256);
    assert!(parse_condition(&format!("a = {value}")).is_err());
    assert!(parse_condition(&format!("{name} = :v")).is_err());
}
