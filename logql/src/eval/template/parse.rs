//! Builds the template tree from lexed items (Go `text/template/parse`).

use super::funcs::is_known_function;
use super::lexer::{line_of, Item, Tok};
use super::TemplateError;

/// An argument or command operand.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// `.` followed by fields (`.` alone is an empty list).
    Field(Vec<String>),
    /// `$x.f.g`.
    Var(String, Vec<String>),
    /// A function name.
    Func(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    /// `(pipeline).f.g`.
    Sub(Box<Pipe>, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cmd {
    pub args: Vec<Arg>,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pipe {
    /// Variables declared (`:=`) or assigned (`=`).
    pub vars: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    Break,
    Continue,
}

/// Maximum nesting of control structures and parentheses.
const MAX_NESTING: usize = 200;

struct Parser<'a> {
    name: &'a str,
    src: &'a str,
    items: Vec<Item>,
    i: usize,
    range_depth: usize,
    depth: std::cell::Cell<usize>,
}

enum Stop {
    Eof,
    End,
    Else(Vec<(Tok, usize)>, usize),
}

pub(crate) fn parse(name: &str, src: &str, items: Vec<Item>) -> Result<Vec<Node>, TemplateError> {
    let mut p = Parser {
        name,
        src,
        items,
        i: 0,
        range_depth: 0,
        depth: std::cell::Cell::new(0),
    };
    let (nodes, end) = p.list()?;
    match end {
        Stop::Eof => Ok(nodes),
        Stop::End => Err(p.err(0, "unexpected {{end}}")),
        Stop::Else(_, pos) => Err(p.err(pos, "unexpected {{else}}")),
    }
}

impl Parser<'_> {
    fn err(&self, pos: usize, msg: &str) -> TemplateError {
        TemplateError::Parse(format!(
            "template: {}:{}: {msg}",
            self.name,
            line_of(self.src, pos)
        ))
    }

    /// Parses nodes up to `{{end}}`, `{{else …}}` or the end of input.
    fn list(&mut self) -> Result<(Vec<Node>, Stop), TemplateError> {
        let mut nodes = Vec::new();
        while self.i < self.items.len() {
            let item = self.items[self.i].clone();
            self.i += 1;
            match item {
                Item::Text(t) => nodes.push(Node::Text(t)),
                Item::Action(toks, pos) => {
                    let first = toks.first().map(|t| &t.0);
                    match first {
                        Some(Tok::Ident(k)) if k == "end" => {
                            if toks.len() != 1 {
                                return Err(self.err(pos, "unexpected token in end"));
                            }
                            return Ok((nodes, Stop::End));
                        }
                        Some(Tok::Ident(k)) if k == "else" => {
                            return Ok((nodes, Stop::Else(toks[1..].to_vec(), pos)));
                        }
                        Some(Tok::Ident(k)) if k == "if" || k == "range" || k == "with" => {
                            let k = k.clone();
                            nodes.push(self.control(&k, &toks[1..], pos)?);
                        }
                        Some(Tok::Ident(k)) if k == "break" || k == "continue" => {
                            if self.range_depth == 0 {
                                return Err(
                                    self.err(pos, &format!("{{{{{k}}}}} outside {{{{range}}}}"))
                                );
                            }
                            nodes.push(if k == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        Some(Tok::Ident(k))
                            if matches!(k.as_str(), "define" | "template" | "block") =>
                        {
                            return Err(self.err(pos, &format!("{{{{{k}}}}} is not supported")));
                        }
                        None => return Err(self.err(pos, "missing value for command")),
                        _ => {
                            let pipe = self.pipeline(&toks, pos, true)?;
                            nodes.push(Node::Action(pipe));
                        }
                    }
                }
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn control(
        &mut self,
        kw: &str,
        toks: &[(Tok, usize)],
        pos: usize,
    ) -> Result<Node, TemplateError> {
        self.enter(pos)?;
        let r = self.control_inner(kw, toks, pos);
        self.depth.set(self.depth.get() - 1);
        r
    }

    /// Guards the recursion: deeply nested templates are an error, not a stack overflow.
    fn enter(&self, pos: usize) -> Result<(), TemplateError> {
        if self.depth.get() >= MAX_NESTING {
            return Err(self.err(pos, "template nesting too deep"));
        }
        self.depth.set(self.depth.get() + 1);
        Ok(())
    }

    fn control_inner(
        &mut self,
        kw: &str,
        toks: &[(Tok, usize)],
        pos: usize,
    ) -> Result<Node, TemplateError> {
        let pipe = self.pipeline(toks, pos, true)?;
        if pipe.cmds.is_empty() {
            return Err(self.err(pos, &format!("missing value for {kw}")));
        }
        if kw == "range" {
            self.range_depth += 1;
        }
        let res = self.list();
        if kw == "range" {
            self.range_depth -= 1;
        }
        let (body, end) = res?;
        let else_list = match end {
            Stop::Eof => return Err(self.err(pos, "unexpected EOF")),
            Stop::End => Vec::new(),
            Stop::Else(rest, epos) => {
                match rest.first().map(|t| &t.0) {
                    None => {
                        let (l, e) = self.list()?;
                        match e {
                            Stop::End => l,
                            Stop::Eof => return Err(self.err(epos, "unexpected EOF")),
                            Stop::Else(_, p) => {
                                return Err(self.err(p, "expected end; found {{else}}"))
                            }
                        }
                    }
                    Some(Tok::Ident(k))
                        if (k == "if" && kw == "if") || (k == "with" && kw == "with") =>
                    {
                        // `{{else if …}}` is `{{else}}{{if …}}…{{end}}` sharing the end.
                        let k = k.clone();
                        vec![self.control(&k, &rest[1..], epos)?]
                    }
                    _ => return Err(self.err(epos, "unexpected token in else")),
                }
            }
        };
        Ok(match kw {
            "if" => Node::If(pipe, body, else_list),
            "range" => Node::Range(pipe, body, else_list),
            _ => Node::With(pipe, body, else_list),
        })
    }

    fn pipeline(
        &self,
        toks: &[(Tok, usize)],
        pos: usize,
        allow_decl: bool,
    ) -> Result<Pipe, TemplateError> {
        let mut vars = Vec::new();
        let mut assign = false;
        let mut rest = toks;
        if allow_decl {
            // `$x :=`, `$x =`, `$i, $e :=`
            let mut j = 0;
            let mut names = Vec::new();
            while let Some((Tok::Var(n, f), _)) = rest.get(j) {
                if !f.is_empty() {
                    break;
                }
                names.push(n.clone());
                j += 1;
                match rest.get(j).map(|t| &t.0) {
                    Some(Tok::Comma) if names.len() == 1 => j += 1,
                    _ => break,
                }
            }
            match rest.get(j).map(|t| &t.0) {
                Some(Tok::Declare) if !names.is_empty() => {
                    vars = names;
                    rest = &rest[j + 1..];
                }
                Some(Tok::Assign) if names.len() == 1 => {
                    vars = names;
                    assign = true;
                    rest = &rest[j + 1..];
                }
                _ => {}
            }
        }
        let mut cmds = Vec::new();
        let mut k = 0;
        while k < rest.len() {
            let (cmd, next) = self.command(rest, k, pos)?;
            cmds.push(cmd);
            k = next;
            match rest.get(k).map(|t| &t.0) {
                None => break,
                Some(Tok::Pipe) => {
                    k += 1;
                    if k >= rest.len() {
                        return Err(self.err(pos, "missing command"));
                    }
                }
                Some(_) => return Err(self.err(pos, "unexpected token in operand")),
            }
        }
        if cmds.is_empty() && !vars.is_empty() {
            return Err(self.err(pos, "missing value for command"));
        }
        Ok(Pipe {
            vars,
            assign,
            cmds,
            pos,
        })
    }

    /// Parses one command (operands up to `|` or the end); returns the next index.
    fn command(
        &self,
        toks: &[(Tok, usize)],
        mut k: usize,
        pos: usize,
    ) -> Result<(Cmd, usize), TemplateError> {
        let cpos = toks.get(k).map_or(pos, |t| t.1);
        let mut args = Vec::new();
        while k < toks.len() {
            let (tok, tpos) = &toks[k];
            let arg = match tok {
                Tok::Pipe => break,
                Tok::RParen => return Err(self.err(*tpos, "unexpected right paren")),
                Tok::Field(f) => Arg::Field(f.clone()),
                Tok::Var(n, f) => Arg::Var(n.clone(), f.clone()),
                Tok::Str(s) => Arg::Str(s.clone()),
                Tok::Int(v) => Arg::Int(*v),
                Tok::Float(v) => Arg::Float(*v),
                Tok::Bool(v) => Arg::Bool(*v),
                Tok::Nil => Arg::Nil,
                Tok::Ident(name) => {
                    if !is_known_function(name) {
                        return Err(self.err(*tpos, &format!("function {name:?} not defined")));
                    }
                    Arg::Func(name.clone())
                }
                Tok::LParen => {
                    // find the matching paren
                    let mut depth = 0;
                    let mut end = None;
                    for (j, (t, _)) in toks.iter().enumerate().skip(k) {
                        match t {
                            Tok::LParen => depth += 1,
                            Tok::RParen => {
                                depth -= 1;
                                if depth == 0 {
                                    end = Some(j);
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    let Some(end) = end else {
                        return Err(self.err(*tpos, "unclosed left paren"));
                    };
                    self.enter(*tpos)?;
                    let inner = self.pipeline(&toks[k + 1..end], *tpos, true);
                    self.depth.set(self.depth.get() - 1);
                    let inner = inner?;
                    if inner.cmds.is_empty() {
                        return Err(self.err(*tpos, "missing value for parenthesized pipeline"));
                    }
                    k = end;
                    // a field chain right after ")"
                    let mut fields = Vec::new();
                    if let Some((Tok::Field(f), fpos)) = toks.get(k + 1) {
                        if *fpos == toks[k].1 + 1 {
                            fields = f.clone();
                            k += 1;
                        }
                    }
                    Arg::Sub(Box::new(inner), fields)
                }
                Tok::Declare | Tok::Assign | Tok::Comma => {
                    return Err(self.err(*tpos, "unexpected token in operand"));
                }
            };
            args.push(arg);
            k += 1;
        }
        if args.is_empty() {
            return Err(self.err(cpos, "missing value for command"));
        }
        if args.len() > 1 && !matches!(args[0], Arg::Func(_)) {
            return Err(self.err(
                cpos,
                &format!("can't give argument to non-function {}", show_arg(&args[0])),
            ));
        }
        Ok((Cmd { args, pos: cpos }, k))
    }
}

/// How a node is shown in error messages (`<.foo>`).
pub(crate) fn show_arg(a: &Arg) -> String {
    match a {
        Arg::Field(f) if f.is_empty() => ".".into(),
        Arg::Field(f) => f.iter().map(|x| format!(".{x}")).collect(),
        Arg::Var(n, f) => format!(
            "{n}{}",
            f.iter().map(|x| format!(".{x}")).collect::<String>()
        ),
        Arg::Func(n) => n.clone(),
        Arg::Str(s) => format!("{s:?}"),
        Arg::Int(v) => v.to_string(),
        Arg::Float(v) => v.to_string(),
        Arg::Bool(v) => v.to_string(),
        Arg::Nil => "nil".into(),
        Arg::Sub(p, f) => format!(
            "({}){}",
            show_pipe(p),
            f.iter().map(|x| format!(".{x}")).collect::<String>()
        ),
    }
}

pub(crate) fn show_pipe(p: &Pipe) -> String {
    p.cmds
        .iter()
        .map(|c| c.args.iter().map(show_arg).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" | ")
}
