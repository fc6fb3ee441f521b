//! DynamoDB's expression language: key condition, condition and filter, projection and
//! update expressions, parsed into syntax trees from AWS's documented grammar
//! ("Condition and filter expressions, operators, and functions", "Update expressions",
//! "Projection expressions", "Key condition expressions" in the DynamoDB Developer Guide).
//!
//! ```text
//! condition  ::= operand comparator operand | operand BETWEEN operand AND operand
//!              | operand IN ( operand {, operand} ) | function
//!              | condition AND condition | condition OR condition | NOT condition
//!              | ( condition )
//! comparator ::= = | <> | < | <= | > | >=
//! function   ::= attribute_exists(path) | attribute_not_exists(path)
//!              | attribute_type(path, operand) | begins_with(path, operand)
//!              | contains(path, operand)            (size(path) as an operand only)
//! operand    ::= path | :value | size(path) | ( operand )
//! path       ::= name { .name | [index] }          name ::= identifier | #placeholder
//! update     ::= SET set {, set} | REMOVE path {, path} | ADD path :v {, …} | DELETE path :v {, …}
//!                (each section at most once, in any order)
//! set        ::= path = value    value ::= operand | operand + operand | operand - operand
//!                (operands here: path, :value, if_not_exists(path, operand),
//!                 list_append(operand, operand))
//! projection ::= path {, path}
//! ```
//!
//! Precedence, lowest first: `OR`, `AND`, `NOT`, then comparisons, `BETWEEN`, `IN` and
//! functions. Keywords and reserved words are case-insensitive; attribute names are not.
//! Parentheses around a parenthesized expression are refused as DynamoDB refuses them
//! ("The expression has redundant parentheses;").
//!
//! The trees keep placeholders unresolved; [`crate::request`] resolves them against the
//! request's `ExpressionAttributeNames`/`Values`. Every tree prints back (`Display`) to an
//! expression that parses to the same tree.

use std::fmt;

use crate::reserved::is_reserved;

/// Longest expression DynamoDB accepts, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 4096;
/// Deepest document path DynamoDB accepts.
pub(crate) const MAX_PATH_DEPTH: usize = 32;
/// Deepest nesting of parentheses and `NOT`s this parser follows.
pub(crate) const MAX_NESTING: usize = 64;
/// Longest `#name` or `:value` placeholder DynamoDB accepts, in bytes.
pub(crate) const MAX_PLACEHOLDER_BYTES: usize = 255;
/// Most operands of one `IN`.
pub(crate) const MAX_IN_OPERANDS: usize = 100;

/// Why an expression was refused, in DynamoDB's wording (without the
/// `Invalid <Kind>Expression: ` prefix the caller adds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExprError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError(msg.into()))
}

/// A name in a document path: a plain identifier or an `#placeholder`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Name {
    /// An attribute name written as is.
    Ident(String),
    /// `#name`, resolved through `ExpressionAttributeNames`.
    Placeholder(String),
}

/// One step of a document path after its first name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// `.name`
    Attr(Name),
    /// `[n]`
    Index(u32),
}

/// A document path: `name {.name | [n]}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    /// The top-level attribute.
    pub head: Name,
    /// Map keys and list indexes below it.
    pub steps: Vec<Step>,
}

/// An operand of a comparison or function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A document path.
    Path(Path),
    /// `:value`, resolved through `ExpressionAttributeValues`.
    Value(String),
    /// A function call (`size`, `if_not_exists`, `list_append`).
    Function(Function),
}

/// A function call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// The function's name (case-sensitive, as DynamoDB's).
    pub name: String,
    /// Its arguments.
    pub args: Vec<Operand>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Comparator {
    fn as_str(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "<>",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }
}

/// A condition (also a key condition or a filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `a <op> b`
    Compare(Operand, Comparator, Operand),
    /// `a BETWEEN b AND c`
    Between(Operand, Operand, Operand),
    /// `a IN (b, c, …)`
    In(Operand, Vec<Operand>),
    /// A boolean function.
    Function(Function),
    /// `a AND b`
    And(Box<Condition>, Box<Condition>),
    /// `a OR b`
    Or(Box<Condition>, Box<Condition>),
    /// `NOT a`
    Not(Box<Condition>),
}

/// The right-hand side of a `SET` action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetValue {
    /// An operand.
    Operand(Operand),
    /// `a + b`
    Plus(Operand, Operand),
    /// `a - b`
    Minus(Operand, Operand),
}

/// An update expression's sections, each present at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// `SET path = value, …`
    pub set: Option<Vec<(Path, SetValue)>>,
    /// `REMOVE path, …`
    pub remove: Option<Vec<Path>>,
    /// `ADD path :v, …`
    pub add: Option<Vec<(Path, String)>>,
    /// `DELETE path :v, …`
    pub delete: Option<Vec<(Path, String)>>,
    /// The order the sections were written in (for printing).
    pub order: Vec<Section>,
}

/// An update section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `SET`
    Set,
    /// `REMOVE`
    Remove,
    /// `ADD`
    Add,
    /// `DELETE`
    Delete,
}

// ---------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Ident(&'a str),
    Placeholder(&'a str),
    Value(&'a str),
    Int(&'a str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Cmp(Comparator),
    Plus,
    Minus,
    Eof,
}

impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) | Tok::Placeholder(s) | Tok::Value(s) | Tok::Int(s) => f.write_str(s),
            Tok::LParen => f.write_str("("),
            Tok::RParen => f.write_str(")"),
            Tok::LBracket => f.write_str("["),
            Tok::RBracket => f.write_str("]"),
            Tok::Comma => f.write_str(","),
            Tok::Dot => f.write_str("."),
            Tok::Cmp(c) => f.write_str(c.as_str()),
            Tok::Plus => f.write_str("+"),
            Tok::Minus => f.write_str("-"),
            Tok::Eof => f.write_str("<EOF>"),
        }
    }
}

fn ident_part(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn lex(src: &str) -> Result<Vec<(Tok<'_>, usize)>, ExprError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
            continue;
        }
        let start = i;
        let run = |from: usize| {
            let mut j = from;
            while bytes.get(j).copied().is_some_and(ident_part) {
                j += 1;
            }
            j
        };
        let slice = |a: usize, b: usize| src.get(a..b).unwrap_or_default();
        let tok = match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                i = run(i + 1);
                Tok::Ident(slice(start, i))
            }
            b'#' | b':' => {
                i = run(i + 1);
                if i == start + 1 {
                    return syntax_error(src, start, &char_at(src, start));
                }
                if i - start > MAX_PLACEHOLDER_BYTES {
                    return err(format!(
                        "An expression attribute name or value is longer than {MAX_PLACEHOLDER_BYTES} bytes"
                    ));
                }
                if b == b'#' {
                    Tok::Placeholder(slice(start, i))
                } else {
                    Tok::Value(slice(start, i))
                }
            }
            b'0'..=b'9' => {
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                if bytes.get(i).copied().is_some_and(ident_part) {
                    return syntax_error(src, start, &char_at(src, i));
                }
                Tok::Int(slice(start, i))
            }
            _ => {
                let next = bytes.get(i + 1).copied();
                let (tok, len) = match (b, next) {
                    (b'<', Some(b'=')) => (Tok::Cmp(Comparator::Le), 2),
                    (b'>', Some(b'=')) => (Tok::Cmp(Comparator::Ge), 2),
                    (b'<', Some(b'>')) => (Tok::Cmp(Comparator::Ne), 2),
                    (b'<', _) => (Tok::Cmp(Comparator::Lt), 1),
                    (b'>', _) => (Tok::Cmp(Comparator::Gt), 1),
                    (b'=', _) => (Tok::Cmp(Comparator::Eq), 1),
                    (b'(', _) => (Tok::LParen, 1),
                    (b')', _) => (Tok::RParen, 1),
                    (b'[', _) => (Tok::LBracket, 1),
                    (b']', _) => (Tok::RBracket, 1),
                    (b',', _) => (Tok::Comma, 1),
                    (b'.', _) => (Tok::Dot, 1),
                    (b'+', _) => (Tok::Plus, 1),
                    (b'-', _) => (Tok::Minus, 1),
                    _ => return syntax_error(src, start, &char_at(src, start)),
                };
                i += len;
                tok
            }
        };
        out.push((tok, start));
    }
    out.push((Tok::Eof, src.len()));
    Ok(out)
}

fn char_at(src: &str, at: usize) -> String {
    src.get(at..)
        .and_then(|s| s.chars().next())
        .map(String::from)
        .unwrap_or_else(|| "<EOF>".to_owned())
}

fn syntax_error<T>(src: &str, at: usize, token: &str) -> Result<T, ExprError> {
    // DynamoDB quotes the offending token and a few characters around it.
    let mut from = at.saturating_sub(8);
    while !src.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (at + token.len() + 8).min(src.len());
    while !src.is_char_boundary(to) {
        to += 1;
    }
    err(format!(
        "Syntax error; token: \"{token}\", near: \"{}\"",
        src.get(from..to).unwrap_or_default()
    ))
}

fn keyword(tok: Tok<'_>, word: &str) -> bool {
    matches!(tok, Tok::Ident(s) if s.eq_ignore_ascii_case(word))
}

const CONDITION_KEYWORDS: &[&str] = &["AND", "OR", "NOT", "BETWEEN", "IN"];
const UPDATE_KEYWORDS: &[&str] = &["SET", "REMOVE", "ADD", "DELETE"];

// ---------------------------------------------------------------------------------------
// Parser

/// Which functions an operand may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Condition,
    Update,
    Projection,
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok<'a>, usize)>,
    pos: usize,
    depth: usize,
    dialect: Dialect,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, dialect: Dialect) -> Result<Parser<'a>, ExprError> {
        if src.is_empty() {
            return err("The expression can not be empty;");
        }
        if src.len() > MAX_EXPRESSION_BYTES {
            return err(format!(
                "Expression size has exceeded the maximum allowed size; expression size: {}",
                src.len()
            ));
        }
        Ok(Parser {
            src,
            toks: lex(src)?,
            pos: 0,
            depth: 0,
            dialect,
        })
    }

    fn peek(&self) -> Tok<'a> {
        self.toks.get(self.pos).map_or(Tok::Eof, |t| t.0)
    }

    fn peek2(&self) -> Tok<'a> {
        self.toks.get(self.pos + 1).map_or(Tok::Eof, |t| t.0)
    }

    fn bump(&mut self) -> Tok<'a> {
        let t = self.peek();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn unexpected<T>(&self) -> Result<T, ExprError> {
        let (tok, at) = self
            .toks
            .get(self.pos)
            .copied()
            .unwrap_or((Tok::Eof, self.src.len()));
        syntax_error(self.src, at, &tok.to_string())
    }

    fn expect(&mut self, want: Tok<'_>) -> Result<(), ExprError> {
        if self.peek() == want {
            self.bump();
            Ok(())
        } else {
            self.unexpected()
        }
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return err(format!(
                "The expression is nested too deeply; at most {MAX_NESTING} levels are allowed"
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn finish(&self) -> Result<(), ExprError> {
        if self.peek() == Tok::Eof {
            Ok(())
        } else {
            self.unexpected()
        }
    }

    fn is_keyword(&self, tok: Tok<'_>) -> bool {
        let words = match self.dialect {
            Dialect::Condition => CONDITION_KEYWORDS,
            Dialect::Update => UPDATE_KEYWORDS,
            Dialect::Projection => &[],
        };
        words.iter().any(|w| keyword(tok, w))
    }

    // --- paths and operands ------------------------------------------------------------

    fn name(&mut self) -> Result<Name, ExprError> {
        match self.peek() {
            Tok::Ident(s) if !self.is_keyword(Tok::Ident(s)) => {
                self.bump();
                if is_reserved(s) {
                    return err(format!(
                        "Attribute name is a reserved keyword; reserved keyword: {s}"
                    ));
                }
                Ok(Name::Ident(s.to_owned()))
            }
            Tok::Placeholder(s) => {
                self.bump();
                Ok(Name::Placeholder(s.to_owned()))
            }
            _ => self.unexpected(),
        }
    }

    fn path(&mut self) -> Result<Path, ExprError> {
        let head = self.name()?;
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    steps.push(Step::Attr(self.name()?));
                }
                Tok::LBracket => {
                    self.bump();
                    let Tok::Int(n) = self.peek() else {
                        return self.unexpected();
                    };
                    let Ok(n) = n.parse::<u32>() else {
                        return self.unexpected();
                    };
                    self.bump();
                    self.expect(Tok::RBracket)?;
                    steps.push(Step::Index(n));
                }
                _ => break,
            }
            if steps.len() + 1 > MAX_PATH_DEPTH {
                return err(format!(
                    "The document path has too many nesting levels; nesting levels: {}",
                    steps.len() + 1
                ));
            }
        }
        Ok(Path { head, steps })
    }

    /// `operand` or `( operand )`; `(( operand ))` is refused as redundant.
    fn operand_parens(&mut self) -> Result<Operand, ExprError> {
        if self.peek() == Tok::LParen {
            self.bump();
            if self.peek() == Tok::LParen {
                return err("The expression has redundant parentheses;");
            }
            self.enter()?;
            let op = self.operand()?;
            self.leave();
            self.expect(Tok::RParen)?;
            Ok(op)
        } else {
            self.operand()
        }
    }

    fn operand(&mut self) -> Result<Operand, ExprError> {
        match (self.peek(), self.peek2()) {
            (Tok::Value(v), _) => {
                self.bump();
                Ok(Operand::Value(v.to_owned()))
            }
            (Tok::Ident(name), Tok::LParen) if !self.is_keyword(Tok::Ident(name)) => {
                self.bump();
                self.bump();
                self.enter()?;
                let mut args = vec![self.operand_parens()?];
                while self.peek() == Tok::Comma {
                    self.bump();
                    args.push(self.operand_parens()?);
                }
                self.leave();
                self.expect(Tok::RParen)?;
                let f = Function {
                    name: name.to_owned(),
                    args,
                };
                self.check_function(&f)?;
                Ok(Operand::Function(f))
            }
            _ => Ok(Operand::Path(self.path()?)),
        }
    }

    fn check_function(&self, f: &Function) -> Result<(), ExprError> {
        let arity = match (self.dialect, f.name.as_str()) {
            (Dialect::Condition, "attribute_exists" | "attribute_not_exists" | "size") => 1,
            (Dialect::Condition, "attribute_type" | "begins_with" | "contains") => 2,
            (Dialect::Update, "if_not_exists" | "list_append") => 2,
            _ => return err(format!("Invalid function name; function: {}", f.name)),
        };
        if f.args.len() != arity {
            return err(format!(
                "Incorrect number of operands for operator or function; operator or function: {}, number of operands: {}",
                f.name,
                f.args.len()
            ));
        }
        if matches!(
            f.name.as_str(),
            "attribute_exists" | "attribute_not_exists" | "if_not_exists" | "size"
        ) && !matches!(f.args.first(), Some(Operand::Path(_)))
        {
            return err(format!(
                "Operator or function requires a document path; operator or function: {}",
                f.name
            ));
        }
        if f.name == "attribute_type" && !matches!(f.args.get(1), Some(Operand::Value(_))) {
            return err(
                "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {NS,SS,L,BS,N,M,B,BOOL,NULL,S}",
            );
        }
        if self.dialect == Dialect::Condition {
            // Only `size` may be an argument (or an operand) in a condition.
            check_operands(&f.args)?;
        }
        Ok(())
    }

    // --- conditions --------------------------------------------------------------------

    fn or(&mut self) -> Result<Condition, ExprError> {
        let left = self.and()?;
        if keyword(self.peek(), "OR") {
            self.bump();
            let right = self.or()?;
            return Ok(Condition::Or(Box::new(left), Box::new(right)));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, ExprError> {
        let left = self.not()?;
        if keyword(self.peek(), "AND") {
            self.bump();
            let right = self.and()?;
            return Ok(Condition::And(Box::new(left), Box::new(right)));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Condition, ExprError> {
        if keyword(self.peek(), "NOT") {
            self.bump();
            self.enter()?;
            let inner = self.not()?;
            self.leave();
            return Ok(Condition::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition, ExprError> {
        if self.peek() == Tok::LParen {
            // `(a) = :v` (a parenthesized operand) or `(a = :v)` (a parenthesized
            // condition): try the operand first. An operand never contains a condition,
            // so the attempt costs at most the operand's length (no exponential backtracking).
            let save = self.pos;
            let depth = self.depth;
            if let Ok(op) = self.operand_parens()
                && self.at_comparison()
            {
                return self.comparison(op);
            }
            self.pos = save;
            self.depth = depth;
            self.bump();
            if self.peek() == Tok::LParen && self.closes_at_matching() {
                return err("The expression has redundant parentheses;");
            }
            self.enter()?;
            let inner = self.or()?;
            self.leave();
            self.expect(Tok::RParen)?;
            return Ok(inner);
        }
        let op = self.operand()?;
        if self.at_comparison() {
            return self.comparison(op);
        }
        match op {
            Operand::Function(f) if f.name != "size" => Ok(Condition::Function(f)),
            Operand::Function(f) => err(format!(
                "The function is not allowed to be used this way in an expression; function: {}",
                f.name
            )),
            _ => self.unexpected(),
        }
    }

    /// At `((`: whether the inner `(` closes right before the outer one's `)`.
    fn closes_at_matching(&self) -> bool {
        let mut depth = 0usize;
        for (i, (t, _)) in self.toks.iter().enumerate().skip(self.pos) {
            match t {
                Tok::LParen => depth += 1,
                Tok::RParen => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return matches!(self.toks.get(i + 1), Some((Tok::RParen, _)));
                    }
                }
                Tok::Eof => return false,
                _ => {}
            }
        }
        false
    }

    fn at_comparison(&self) -> bool {
        let t = self.peek();
        matches!(t, Tok::Cmp(_)) || keyword(t, "BETWEEN") || keyword(t, "IN")
    }

    fn comparison(&mut self, left: Operand) -> Result<Condition, ExprError> {
        let cond = match self.bump() {
            Tok::Cmp(c) => {
                let right = self.operand_parens()?;
                check_operands(&[left.clone(), right.clone()])?;
                check_distinct(c.as_str(), &left, &right)?;
                Condition::Compare(left, c, right)
            }
            t if keyword(t, "BETWEEN") => {
                let low = self.operand_parens()?;
                if !keyword(self.peek(), "AND") {
                    return self.unexpected();
                }
                self.bump();
                let high = self.operand_parens()?;
                check_operands(&[left.clone(), low.clone(), high.clone()])?;
                Condition::Between(left, low, high)
            }
            _ => {
                self.expect(Tok::LParen)?;
                let mut list = vec![self.operand_parens()?];
                while self.peek() == Tok::Comma {
                    self.bump();
                    list.push(self.operand_parens()?);
                    if list.len() > MAX_IN_OPERANDS {
                        return err(format!(
                            "Too many operands for the IN operator; at most {MAX_IN_OPERANDS} are allowed"
                        ));
                    }
                }
                self.expect(Tok::RParen)?;
                check_operands(std::slice::from_ref(&left))?;
                check_operands(&list)?;
                Condition::In(left, list)
            }
        };
        Ok(cond)
    }

    // --- update ------------------------------------------------------------------------

    fn update(&mut self) -> Result<Update, ExprError> {
        let mut u = Update::default();
        loop {
            let t = self.peek();
            let section = if keyword(t, "SET") {
                Section::Set
            } else if keyword(t, "REMOVE") {
                Section::Remove
            } else if keyword(t, "ADD") {
                Section::Add
            } else if keyword(t, "DELETE") {
                Section::Delete
            } else if u.order.is_empty() || t != Tok::Eof {
                return self.unexpected();
            } else {
                return Ok(u);
            };
            self.bump();
            if u.order.contains(&section) {
                let name = match section {
                    Section::Set => "SET",
                    Section::Remove => "REMOVE",
                    Section::Add => "ADD",
                    Section::Delete => "DELETE",
                };
                return err(format!(
                    "The \"{name}\" section can only be used once in an update expression;"
                ));
            }
            u.order.push(section);
            match section {
                Section::Set => {
                    let mut list = Vec::new();
                    loop {
                        let path = self.path()?;
                        self.expect(Tok::Cmp(Comparator::Eq))?;
                        list.push((path, self.set_value()?));
                        if !self.list_continues() {
                            break;
                        }
                    }
                    u.set = Some(list);
                }
                Section::Remove => {
                    let mut list = vec![self.path()?];
                    while self.list_continues() {
                        list.push(self.path()?);
                    }
                    u.remove = Some(list);
                }
                Section::Add | Section::Delete => {
                    let mut list = Vec::new();
                    loop {
                        let path = self.path()?;
                        let Tok::Value(v) = self.peek() else {
                            return self.unexpected();
                        };
                        self.bump();
                        list.push((path, v.to_owned()));
                        if !self.list_continues() {
                            break;
                        }
                    }
                    if section == Section::Add {
                        u.add = Some(list);
                    } else {
                        u.delete = Some(list);
                    }
                }
            }
        }
    }

    fn list_continues(&mut self) -> bool {
        if self.peek() == Tok::Comma {
            self.bump();
            true
        } else {
            false
        }
    }

    fn set_value(&mut self) -> Result<SetValue, ExprError> {
        // `(a)` is an operand in parentheses, `(a + b)` a parenthesized value.
        if self.peek() == Tok::LParen {
            let save = self.pos;
            let depth = self.depth;
            if let Ok(op) = self.operand_parens() {
                return self.arith(op);
            }
            self.pos = save;
            self.depth = depth;
            self.bump();
            let first = self.operand_parens()?;
            let v = self.arith(first)?;
            self.expect(Tok::RParen)?;
            return Ok(v);
        }
        let first = self.operand_parens()?;
        self.arith(first)
    }

    fn arith(&mut self, first: Operand) -> Result<SetValue, ExprError> {
        match self.peek() {
            Tok::Plus => {
                self.bump();
                Ok(SetValue::Plus(first, self.operand_parens()?))
            }
            Tok::Minus => {
                self.bump();
                Ok(SetValue::Minus(first, self.operand_parens()?))
            }
            _ => Ok(SetValue::Operand(first)),
        }
    }

    // --- projection --------------------------------------------------------------------

    fn projection(&mut self) -> Result<Vec<Path>, ExprError> {
        let mut list = vec![self.path()?];
        while self.list_continues() {
            list.push(self.path()?);
        }
        Ok(list)
    }
}

/// In a condition only `size` may stand where an operand is expected.
fn check_operands(ops: &[Operand]) -> Result<(), ExprError> {
    for op in ops {
        if let Operand::Function(f) = op
            && f.name != "size"
        {
            return err(format!(
                "The function is not allowed to be used this way in an expression; function: {}",
                f.name
            ));
        }
    }
    Ok(())
}

fn check_distinct(op: &str, a: &Operand, b: &Operand) -> Result<(), ExprError> {
    if let (Operand::Path(x), Operand::Path(y)) = (a, b)
        && x == y
    {
        return err(format!(
            "The first operand must be distinct from the remaining operands for this operator or function; operator: {op}, first operand: {}",
            path_list(x)
        ));
    }
    Ok(())
}

fn path_list(p: &Path) -> String {
    let mut s = format!("[{}", NameDisplay(&p.head));
    for step in &p.steps {
        match step {
            Step::Attr(n) => s.push_str(&format!(", {}", NameDisplay(n))),
            Step::Index(i) => s.push_str(&format!(", [{i}]")),
        }
    }
    s.push(']');
    s
}

/// Refuses paths that overlap (one is a prefix of the other) or conflict (a map key where
/// the other has a list index), as DynamoDB does in projections and updates.
fn check_overlaps<'p>(paths: impl Iterator<Item = &'p Path> + Clone) -> Result<(), ExprError> {
    let all: Vec<&Path> = paths.collect();
    for (i, a) in all.iter().enumerate() {
        for b in all.iter().skip(i + 1) {
            if a.head != b.head {
                continue;
            }
            let mut overlap = true;
            for (x, y) in a.steps.iter().zip(&b.steps) {
                match (x, y) {
                    (Step::Attr(_), Step::Index(_)) | (Step::Index(_), Step::Attr(_)) => {
                        return err(format!(
                            "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                            path_list(a),
                            path_list(b)
                        ));
                    }
                    _ if x != y => {
                        overlap = false;
                        break;
                    }
                    _ => {}
                }
            }
            if overlap {
                return err(format!(
                    "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                    path_list(a),
                    path_list(b)
                ));
            }
        }
    }
    Ok(())
}

/// Parses a condition, filter or key condition expression.
pub fn parse_condition(src: &str) -> Result<Condition, ExprError> {
    let mut p = Parser::new(src, Dialect::Condition)?;
    let c = p.or()?;
    p.finish()?;
    Ok(c)
}

/// Parses an update expression.
pub fn parse_update(src: &str) -> Result<Update, ExprError> {
    let mut p = Parser::new(src, Dialect::Update)?;
    let u = p.update()?;
    p.finish()?;
    check_overlaps(u.targets())?;
    Ok(u)
}

/// Parses a projection expression.
pub fn parse_projection(src: &str) -> Result<Vec<Path>, ExprError> {
    let mut p = Parser::new(src, Dialect::Projection)?;
    let list = p.projection()?;
    p.finish()?;
    check_overlaps(list.iter())?;
    Ok(list)
}

// ---------------------------------------------------------------------------------------
// Walking the trees

impl Operand {
    /// Calls `path` for every document path and `value` for every `:value` in the operand.
    pub fn walk(&self, path: &mut dyn FnMut(&Path), value: &mut dyn FnMut(&str)) {
        match self {
            Operand::Path(p) => path(p),
            Operand::Value(v) => value(v),
            Operand::Function(f) => {
                for a in &f.args {
                    a.walk(path, value);
                }
            }
        }
    }
}

impl Condition {
    /// Calls `path` for every document path and `value` for every `:value`.
    pub fn walk(&self, path: &mut dyn FnMut(&Path), value: &mut dyn FnMut(&str)) {
        match self {
            Condition::Compare(a, _, b) => {
                a.walk(path, value);
                b.walk(path, value);
            }
            Condition::Between(a, b, c) => {
                for o in [a, b, c] {
                    o.walk(path, value);
                }
            }
            Condition::In(a, list) => {
                a.walk(path, value);
                for o in list {
                    o.walk(path, value);
                }
            }
            Condition::Function(f) => {
                for a in &f.args {
                    a.walk(path, value);
                }
            }
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.walk(path, value);
                b.walk(path, value);
            }
            Condition::Not(a) => a.walk(path, value),
        }
    }

    /// The conjuncts of a chain of `AND`s (any grouping), in order.
    pub fn conjuncts(&self) -> Vec<&Condition> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(c) = stack.pop() {
            if let Condition::And(a, b) = c {
                stack.push(b);
                stack.push(a);
            } else {
                out.push(c);
            }
        }
        out
    }
}

impl Update {
    /// The paths the update writes or removes.
    pub fn targets(&self) -> impl Iterator<Item = &Path> + Clone {
        let set = self.set.iter().flatten().map(|(p, _)| p);
        let remove = self.remove.iter().flatten();
        let add = self.add.iter().flatten().map(|(p, _)| p);
        let delete = self.delete.iter().flatten().map(|(p, _)| p);
        set.chain(remove).chain(add).chain(delete)
    }

    /// Calls `path` for every document path (targets and sources) and `value` for every
    /// `:value`.
    pub fn walk(&self, path: &mut dyn FnMut(&Path), value: &mut dyn FnMut(&str)) {
        for (p, v) in self.set.iter().flatten() {
            path(p);
            match v {
                SetValue::Operand(a) => a.walk(path, value),
                SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
                    a.walk(path, value);
                    b.walk(path, value);
                }
            }
        }
        for p in self.remove.iter().flatten() {
            path(p);
        }
        for (p, v) in self
            .add
            .iter()
            .flatten()
            .chain(self.delete.iter().flatten())
        {
            path(p);
            value(v);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Printing

struct NameDisplay<'a>(&'a Name);

impl fmt::Display for NameDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Name::Ident(s) | Name::Placeholder(s) => f.write_str(s),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", NameDisplay(&self.head))?;
        for s in &self.steps {
            match s {
                Step::Attr(n) => write!(f, ".{}", NameDisplay(n))?,
                Step::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Path(p) => write!(f, "{p}"),
            Operand::Value(v) => f.write_str(v),
            Operand::Function(func) => write!(f, "{func}"),
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name)?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str(")")
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The shortest form that parses back to the same tree: parentheses only where
        // precedence needs them (an OR under an AND or a NOT, an AND under a NOT, a chain
        // on the left of its own operator), no spaces the tokens do not need. So the
        // printed form is never longer nor nested deeper than the text it was parsed from.
        let paren = |f: &mut fmt::Formatter<'_>, c: &Condition, needed: bool| {
            if needed {
                write!(f, "({c})")
            } else {
                write!(f, "{c}")
            }
        };
        match self {
            Condition::Compare(a, op, b) => write!(f, "{a}{}{b}", op.as_str()),
            Condition::Between(a, b, c) => write!(f, "{a} BETWEEN {b} AND {c}"),
            Condition::In(a, list) => {
                write!(f, "{a} IN(")?;
                for (i, o) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{o}")?;
                }
                f.write_str(")")
            }
            Condition::Function(func) => write!(f, "{func}"),
            Condition::And(a, b) => {
                paren(f, a, matches!(**a, Condition::Or(..) | Condition::And(..)))?;
                f.write_str(" AND ")?;
                paren(f, b, matches!(**b, Condition::Or(..)))
            }
            Condition::Or(a, b) => {
                paren(f, a, matches!(**a, Condition::Or(..)))?;
                f.write_str(" OR ")?;
                paren(f, b, false)
            }
            Condition::Not(a) => {
                f.write_str("NOT ")?;
                paren(f, a, matches!(**a, Condition::Or(..) | Condition::And(..)))
            }
        }
    }
}

impl fmt::Display for SetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetValue::Operand(a) => write!(f, "{a}"),
            SetValue::Plus(a, b) => write!(f, "{a}+{b}"),
            SetValue::Minus(a, b) => write!(f, "{a}-{b}"),
        }
    }
}

impl fmt::Display for Update {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, section) in self.order.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match section {
                Section::Set => {
                    f.write_str("SET ")?;
                    for (j, (p, v)) in self.set.iter().flatten().enumerate() {
                        if j > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{p}={v}")?;
                    }
                }
                Section::Remove => {
                    f.write_str("REMOVE ")?;
                    for (j, p) in self.remove.iter().flatten().enumerate() {
                        if j > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{p}")?;
                    }
                }
                Section::Add | Section::Delete => {
                    let (word, list) = if *section == Section::Add {
                        ("ADD", &self.add)
                    } else {
                        ("DELETE", &self.delete)
                    };
                    write!(f, "{word} ")?;
                    for (j, (p, v)) in list.iter().flatten().enumerate() {
                        if j > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{p} {v}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Prints a projection.
pub fn print_projection(paths: &[Path]) -> String {
    paths
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(s: &str) -> Name {
        Name::Ident(s.into())
    }

    fn p(s: &str) -> Path {
        Path {
            head: ident(s),
            steps: vec![],
        }
    }

    fn cmp(a: &str, v: &str) -> Condition {
        Condition::Compare(
            Operand::Path(p(a)),
            Comparator::Eq,
            Operand::Value(v.into()),
        )
    }

    #[test]
    fn parenthesized_operands_and_conditions() {
        assert_eq!(
            parse_condition("(UserId) = :u").unwrap(),
            cmp("UserId", ":u")
        );
        assert_eq!(
            parse_condition("(UserId = :u)").unwrap(),
            cmp("UserId", ":u")
        );
        assert_eq!(
            parse_condition("(UserId = :u AND GameTitle > :g)").unwrap(),
            Condition::And(
                Box::new(cmp("UserId", ":u")),
                Box::new(Condition::Compare(
                    Operand::Path(p("GameTitle")),
                    Comparator::Gt,
                    Operand::Value(":g".into())
                ))
            )
        );
        assert_eq!(
            parse_condition(":u = UserId").unwrap(),
            Condition::Compare(
                Operand::Value(":u".into()),
                Comparator::Eq,
                Operand::Path(p("UserId"))
            )
        );
        for redundant in ["((UserId = :u))", "((UserId)) = :u", "(((a = :v)))"] {
            assert_eq!(
                parse_condition(redundant).unwrap_err().0,
                "The expression has redundant parentheses;",
                "{redundant}"
            );
        }
        // Parentheses that group are not redundant.
        assert!(parse_condition("((a = :v) AND b = :w)").is_ok());
        assert!(parse_condition("(a = :v) AND (b = :w)").is_ok());
    }

    #[test]
    fn precedence_and_keywords() {
        let c = parse_condition("a = :a or b = :b AnD not c = :c").unwrap();
        assert_eq!(
            c,
            Condition::Or(
                Box::new(cmp("a", ":a")),
                Box::new(Condition::And(
                    Box::new(cmp("b", ":b")),
                    Box::new(Condition::Not(Box::new(cmp("c", ":c"))))
                ))
            )
        );
        let b = parse_condition("a BETWEEN :x AND :y AND b = :z").unwrap();
        assert_eq!(b.conjuncts().len(), 2);
        assert!(matches!(b.conjuncts()[0], Condition::Between(..)));
        let i = parse_condition("a IN (:x, :y,:z)").unwrap();
        assert!(matches!(i, Condition::In(_, ref l) if l.len() == 3));
    }

    #[test]
    fn functions() {
        assert!(parse_condition("begins_with(a, :p)").is_ok());
        assert!(parse_condition("size(a.b[2]) > :n").is_ok());
        assert!(parse_condition("attribute_exists(#n) AND contains(a, :v)").is_ok());
        assert_eq!(
            parse_condition("size(a)").unwrap_err().0,
            "The function is not allowed to be used this way in an expression; function: size"
        );
        assert_eq!(
            parse_condition("begins_with(a, :p) = :t").unwrap_err().0,
            "The function is not allowed to be used this way in an expression; function: begins_with"
        );
        assert_eq!(
            parse_condition("SIZE(a) > :n").unwrap_err().0,
            "Invalid function name; function: SIZE"
        );
        assert_eq!(
            parse_condition("attribute_exists(:v)").unwrap_err().0,
            "Operator or function requires a document path; operator or function: attribute_exists"
        );
        assert!(
            parse_condition("begins_with(a)")
                .unwrap_err()
                .0
                .starts_with("Incorrect number of operands")
        );
        assert!(parse_update("SET a = list_append(if_not_exists(a, :e), :v)").is_ok());
        assert!(parse_update("SET a = size(b)").is_err());
    }

    #[test]
    fn paths() {
        let c = parse_condition("a.b[0].#c = :v").unwrap();
        let Condition::Compare(Operand::Path(path), _, _) = c else {
            panic!()
        };
        assert_eq!(path.head, ident("a"));
        assert_eq!(
            path.steps,
            vec![
                Step::Attr(ident("b")),
                Step::Index(0),
                Step::Attr(Name::Placeholder("#c".into()))
            ]
        );
        assert_eq!(
            parse_condition("Name = :v").unwrap_err().0,
            "Attribute name is a reserved keyword; reserved keyword: Name"
        );
        assert!(parse_condition("a[x] = :v").is_err());
        assert!(parse_condition("a[99999999999] = :v").is_err());
        let deep = format!("a{} = :v", ".b".repeat(MAX_PATH_DEPTH));
        assert!(parse_condition(&deep).is_err());
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "",
            "a",
            "a =",
            "= :v",
            "a = :v AND",
            "a = :v b = :w",
            "a == :v",
            "a = :v)",
            "(a = :v",
            "a = :",
            "# = :v",
            "a = :v;",
            "a = 'x'",
            "a-b = :v",
            "a BETWEEN :x",
            "a IN ()",
            "NOT",
            "a = = :v",
            "1a = :v",
        ] {
            assert!(parse_condition(bad).is_err(), "{bad:?} parsed");
        }
        let e = parse_condition("a = :v b").unwrap_err().0;
        assert!(e.starts_with("Syntax error; token: \"b\", near: "), "{e}");
    }

    #[test]
    fn bounds() {
        let long = format!("a = :v{}", " ".repeat(MAX_EXPRESSION_BYTES));
        assert!(
            parse_condition(&long)
                .unwrap_err()
                .0
                .starts_with("Expression size has exceeded")
        );
        let nested = format!("{}a = :v{}", "NOT (".repeat(40), ")".repeat(40));
        assert!(
            parse_condition(&nested)
                .unwrap_err()
                .0
                .contains("nested too deeply")
        );
        let ok = format!("{}a = :v{}", "NOT (".repeat(10), ")".repeat(10));
        assert!(parse_condition(&ok).is_ok());
        // Many unbalanced parentheses: linear, no exponential backtracking.
        let parens = "(".repeat(2000);
        assert!(parse_condition(&parens).is_err());
        let list: Vec<String> = (0..=MAX_IN_OPERANDS).map(|i| format!(":v{i}")).collect();
        assert!(parse_condition(&format!("a IN ({})", list.join(","))).is_err());
    }

    #[test]
    fn updates() {
        let u =
            parse_update("set a = :a, b = b + :one remove c, d[1] ADD e :e delete f :f").unwrap();
        assert_eq!(
            u.order,
            vec![Section::Set, Section::Remove, Section::Add, Section::Delete]
        );
        let targets: Vec<String> = u.targets().map(ToString::to_string).collect();
        assert_eq!(targets, ["a", "b", "c", "d[1]", "e", "f"]);
        assert!(parse_update("SET a = (b + :v)").is_ok());
        assert!(parse_update("SET a = (:v)").is_ok());
        assert_eq!(
            parse_update("SET a = :a SET b = :b").unwrap_err().0,
            "The \"SET\" section can only be used once in an update expression;"
        );
        assert!(
            parse_update("SET a = :a, a = :b")
                .unwrap_err()
                .0
                .contains("overlap")
        );
        assert!(
            parse_update("SET a.b = :a REMOVE a")
                .unwrap_err()
                .0
                .contains("overlap")
        );
        assert!(
            parse_update("SET a[0] = :a REMOVE a.b")
                .unwrap_err()
                .0
                .contains("conflict")
        );
        assert!(parse_update("SET a.b = :a REMOVE a.c").is_ok());
        assert!(parse_update("a = :v").is_err());
        assert!(parse_update("SET").is_err());
        assert!(parse_update("ADD a").is_err());
        assert!(parse_update("REMOVE a = :v").is_err());
    }

    #[test]
    fn projections() {
        let list = parse_projection("a, #b.c, d[3]").unwrap();
        assert_eq!(print_projection(&list), "a,#b.c,d[3]");
        assert!(parse_projection("a, a").unwrap_err().0.contains("overlap"));
        assert!(parse_projection("a,").is_err());
        assert!(parse_projection("size(a)").is_err());
        assert!(parse_projection("(a)").is_err());
    }

    #[test]
    fn printing_round_trips() {
        for src in [
            "(UserId = :u AND GameTitle > :g)",
            "a = :a OR (b = :b AND NOT c.d[1] <> :c)",
            "NOT (a = :a OR b = :b)",
            "size(a) BETWEEN :lo AND :hi",
            "a IN (:x, :y) AND begins_with(#n, :p)",
            "(a = :a OR b = :b) AND c = :c",
        ] {
            let c = parse_condition(src).unwrap();
            let printed = c.to_string();
            assert_eq!(parse_condition(&printed).unwrap(), c, "{src} → {printed}");
        }
        let u =
            parse_update("SET a = :a, b = if_not_exists(b, :z) - :one REMOVE c ADD d :d").unwrap();
        assert_eq!(parse_update(&u.to_string()).unwrap(), u);
    }
}
