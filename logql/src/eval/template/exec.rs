//! The tree-walking interpreter.

use super::funcs::{self, FuncError};
use super::lexer::line_of;
use super::parse::{show_arg, show_pipe, Arg, Cmd, Node, Pipe};
use super::{write_value, TemplateContext, TemplateError, Value};

/// Nesting limit for `range`/`if`/`with` bodies and parenthesised pipelines.
const MAX_DEPTH: usize = 1_000;
/// Total range iterations allowed per render (guards `range 1000000000`).
const MAX_ITERATIONS: usize = 1_000_000;

enum Flow {
    Normal,
    Break,
    Continue,
}

pub(crate) struct Exec<'a, 'o> {
    name: &'a str,
    ctx: &'a TemplateContext<'a>,
    out: &'o mut String,
    vars: Vec<(String, Value)>,
    iterations: usize,
}

impl<'a, 'o> Exec<'a, 'o> {
    pub(crate) fn new(name: &'a str, ctx: &'a TemplateContext<'a>, out: &'o mut String) -> Self {
        Exec {
            name,
            ctx,
            out,
            vars: vec![("$".to_string(), Value::Labels)],
            iterations: 0,
        }
    }

    pub(crate) fn run(mut self, nodes: &[Node]) -> Result<(), TemplateError> {
        self.list(nodes, &Value::Labels, 0).map(|_| ())
    }

    fn err(&self, pos: usize, at: &str, msg: &str) -> TemplateError {
        TemplateError::Exec(format!(
            "template: {}:{}: executing \"{}\" at <{}>: {}",
            self.name,
            line_of_pos(pos),
            self.name,
            at,
            msg
        ))
    }

    fn list(&mut self, nodes: &[Node], dot: &Value, depth: usize) -> Result<Flow, TemplateError> {
        if depth > MAX_DEPTH {
            return Err(self.err(0, "", "template nesting too deep"));
        }
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.vars.is_empty() {
                        write_value(self.out, &v, self.ctx);
                    }
                }
                Node::If(p, body, els) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot)?;
                    let flow = if v.truthy(self.ctx) {
                        self.list(body, dot, depth + 1)?
                    } else {
                        self.list(els, dot, depth + 1)?
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::With(p, body, els) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot)?;
                    let flow = if v.truthy(self.ctx) {
                        self.list(body, &v, depth + 1)?
                    } else {
                        self.list(els, dot, depth + 1)?
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(p, body, els) => self.range(p, body, els, dot, depth)?,
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn range(
        &mut self,
        p: &Pipe,
        body: &[Node],
        els: &[Node],
        dot: &Value,
        depth: usize,
    ) -> Result<(), TemplateError> {
        let mark = self.vars.len();
        let decl = Pipe {
            vars: Vec::new(),
            ..p.clone()
        };
        let v = self.pipe(&decl, dot)?;
        let items: Vec<(Value, Value)> = match &v {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, x)| (Value::Int(i as i64), x.clone()))
                .collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, x)| (Value::Str(k.clone()), x.clone()))
                .collect(),
            Value::Labels => {
                let mut pairs = Vec::new();
                self.ctx
                    .labels
                    .for_each_label(&mut |n, v| pairs.push((n.to_string(), v.to_string())));
                pairs.sort();
                pairs
                    .into_iter()
                    .map(|(k, x)| (Value::Str(k), Value::Str(x)))
                    .collect()
            }
            Value::Int(n) => {
                let n = usize::try_from(*n).unwrap_or(0); // a negative count iterates zero times
                if n > MAX_ITERATIONS.saturating_sub(self.iterations) {
                    return Err(self.err(p.pos, &show_pipe(p), "range: too many iterations"));
                }
                (0..n as i64)
                    .map(|i| (Value::Int(i), Value::Int(i)))
                    .collect()
            }
            Value::Nil => Vec::new(),
            other => {
                return Err(self.err(
                    p.pos,
                    &show_pipe(p),
                    &format!("range can't iterate over {}", display(other, self.ctx)),
                ))
            }
        };
        if items.is_empty() {
            self.list(els, dot, depth + 1)?;
            self.vars.truncate(mark);
            return Ok(());
        }
        for (k, elem) in items {
            self.iterations += 1;
            if self.iterations > MAX_ITERATIONS {
                return Err(self.err(p.pos, &show_pipe(p), "range: too many iterations"));
            }
            let inner = self.vars.len();
            match p.vars.as_slice() {
                [] => {}
                [e] => self.vars.push((e.clone(), elem.clone())),
                [i, e, ..] => {
                    self.vars.push((i.clone(), k));
                    self.vars.push((e.clone(), elem.clone()));
                }
            }
            let flow = self.list(body, &elem, depth + 1)?;
            self.vars.truncate(inner);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value, TemplateError> {
        let mut last: Option<Value> = None;
        for c in &p.cmds {
            last = Some(self.cmd(c, dot, last)?);
        }
        let v = last.unwrap_or(Value::Nil);
        if p.assign {
            let name = &p.vars[0];
            match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = v.clone(),
                None => {
                    return Err(self.err(p.pos, name, &format!("undefined variable: {name}")));
                }
            }
        } else {
            for name in &p.vars {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn cmd(&mut self, c: &Cmd, dot: &Value, fin: Option<Value>) -> Result<Value, TemplateError> {
        match &c.args[0] {
            Arg::Func(name) => {
                let at = name.as_str();
                if name == "and" || name == "or" {
                    return self.and_or(name == "and", c, dot, fin);
                }
                let mut args = Vec::with_capacity(c.args.len());
                for a in &c.args[1..] {
                    args.push(self.arg(a, dot, c.pos)?);
                }
                if let Some(f) = fin {
                    args.push(f);
                }
                funcs::call(name, args, self.ctx).map_err(|e| match e {
                    FuncError::Call(m) => {
                        self.err(c.pos, at, &format!("error calling {name}: {m}"))
                    }
                    FuncError::Type(m) => self.err(c.pos, at, &m),
                })
            }
            a => {
                if fin.is_some() {
                    return Err(self.err(
                        c.pos,
                        &show_arg(a),
                        &format!("can't give argument to non-function {}", show_arg(a)),
                    ));
                }
                self.arg(a, dot, c.pos)
            }
        }
    }

    fn and_or(
        &mut self,
        is_and: bool,
        c: &Cmd,
        dot: &Value,
        fin: Option<Value>,
    ) -> Result<Value, TemplateError> {
        let n = c.args.len() - 1 + usize::from(fin.is_some());
        if n < 1 {
            let name = if is_and { "and" } else { "or" };
            return Err(self.err(
                c.pos,
                name,
                &format!("wrong number of args for {name}: want at least 1 got 0"),
            ));
        }
        let mut last = Value::Nil;
        for a in &c.args[1..] {
            last = self.arg(a, dot, c.pos)?;
            if last.truthy(self.ctx) != is_and {
                return Ok(last);
            }
        }
        if let Some(f) = fin {
            last = f;
        }
        Ok(last)
    }

    fn arg(&mut self, a: &Arg, dot: &Value, pos: usize) -> Result<Value, TemplateError> {
        match a {
            Arg::Field(f) => self.fields(dot.clone(), f, pos, a),
            Arg::Var(name, f) => {
                let v = match self.vars.iter().rev().find(|(n, _)| n == name) {
                    Some((_, v)) => v.clone(),
                    None => {
                        return Err(self.err(pos, name, &format!("undefined variable: {name}")));
                    }
                };
                self.fields(v, f, pos, a)
            }
            Arg::Func(name) => funcs::call(name, Vec::new(), self.ctx).map_err(|e| match e {
                FuncError::Call(m) => self.err(pos, name, &format!("error calling {name}: {m}")),
                FuncError::Type(m) => self.err(pos, name, &m),
            }),
            Arg::Str(s) => Ok(Value::Str(s.clone())),
            Arg::Int(i) => Ok(Value::Int(*i)),
            Arg::Float(f) => Ok(Value::Float(*f)),
            Arg::Bool(b) => Ok(Value::Bool(*b)),
            Arg::Nil => Err(self.err(pos, "nil", "nil is not a command")),
            Arg::Sub(p, f) => {
                let v = self.pipe(p, dot)?;
                self.fields(v, f, pos, a)
            }
        }
    }

    fn fields(
        &self,
        mut v: Value,
        fields: &[String],
        pos: usize,
        a: &Arg,
    ) -> Result<Value, TemplateError> {
        for f in fields {
            v = match v {
                Value::Labels => Value::Str(self.ctx.labels.get(f).unwrap_or("").to_string()),
                Value::Map(mut m) => m.remove(f).unwrap_or(Value::Nil),
                Value::Nil => {
                    return Err(self.err(
                        pos,
                        &show_arg(a),
                        &format!("nil pointer evaluating interface {{}}.{f}"),
                    ))
                }
                other => {
                    return Err(self.err(
                        pos,
                        &show_arg(a),
                        &format!("can't evaluate field {f} in type {}", other.type_name()),
                    ))
                }
            };
        }
        Ok(v)
    }
}

fn line_of_pos(pos: usize) -> String {
    // Positions are byte offsets; templates are usually one line.
    let _ = line_of;
    format!("1:{pos}")
}

fn display(v: &Value, ctx: &TemplateContext<'_>) -> String {
    let mut s = String::new();
    write_value(&mut s, v, ctx);
    s
}

/// Collects `.name` references (first segment of field chains on the data).
pub(crate) fn collect_fields(nodes: &[Node], out: &mut Vec<String>) {
    fn pipe(p: &Pipe, out: &mut Vec<String>) {
        for c in &p.cmds {
            for a in &c.args {
                match a {
                    Arg::Field(f) => out.extend(f.first().cloned()),
                    Arg::Sub(p, _) => pipe(p, out),
                    _ => {}
                }
            }
        }
    }
    for n in nodes {
        match n {
            Node::Action(p) => pipe(p, out),
            Node::If(p, a, b) | Node::Range(p, a, b) | Node::With(p, a, b) => {
                pipe(p, out);
                collect_fields(a, out);
                collect_fields(b, out);
            }
            Node::Text(_) | Node::Break | Node::Continue => {}
        }
    }
}
