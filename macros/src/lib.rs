//! The `#[heist::main]` and `#[heist::test]` attributes, re-exported by the `heist` crate; use
//! them from there (their runnable examples live in `heist`'s docs, since this crate cannot
//! depend on `heist`).
//!
//! Both turn an `async fn` into a plain `fn` that starts a heist runtime and runs the
//! function's body on it with `block_on`. The attributes, visibility, name, generics,
//! arguments, return type and `where` clause are kept token for token; only `async` goes.
//!
//! ```ignore
//! #[heist::main(worker_threads = 4)]
//! async fn main() -> std::io::Result<()> {
//!     body
//! }
//! ```
//!
//! becomes
//!
//! ```ignore
//! fn main() -> std::io::Result<()> {
//!     #[allow(clippy::expect_used)]
//!     let rt = ::heist::runtime::Builder::new_multi_thread()
//!         .worker_threads(4) // only with `worker_threads = N`
//!         .build()
//!         .expect("#[heist::main] could not start the heist runtime");
//!     rt.block_on(async move { body })
//! }
//! ```
//!
//! and
//!
//! ```ignore
//! #[heist::test]
//! #[should_panic(expected = "boom")]
//! async fn it_panics() {
//!     body
//! }
//! ```
//!
//! becomes
//!
//! ```ignore
//! #[::core::prelude::v1::test]
//! #[should_panic(expected = "boom")]
//! fn it_panics() {
//!     #[allow(clippy::expect_used)]
//!     let rt = ::heist::runtime::Builder::new_current_thread() // see the flavors below
//!         .build()
//!         .expect("#[heist::test] could not start the heist runtime");
//!     rt.block_on(async move { body })
//! }
//! ```
//!
//! * `flavor = "current_thread"` builds `Builder::new_current_thread()` (tasks run on the
//!   thread that calls `block_on`), `flavor = "multi_thread"` `Builder::new_multi_thread()`.
//!   Without `flavor`, `#[heist::main]` is multi_thread and `#[heist::test]` current_thread,
//!   as tokio's are, except that `worker_threads = N` alone means multi_thread (heist's tests
//!   wrote it so before there were flavors); with `flavor = "current_thread"` it is an error.
//! * `#[heist::main]` without `worker_threads` leaves the count to the builder: one worker
//!   per CPU core, or `HEIST_WORKER_THREADS`.
//! * `#[heist::test]` starts a fresh runtime per test. The body runs on the test's own
//!   thread, so a panic in it unwinds through `block_on` and fails the test with its original message (`#[should_panic(expected =
//!   "...")]` works); a panic in a *spawned* task comes back as a `JoinError` from its handle.
//! * The `async move` block goes straight into `block_on`, whose result is the function's
//!   value, so the return type guides inference in the body: `?` (with its `From` conversion),
//!   `return` and `.into()` work as in the original function. One difference, shared with
//!   `#[tokio::main]` (whose body is an `async` block too): an `async` block has no declared
//!   output type, so its `return`s are not coercion sites. `return Box::new(a)` and a later
//!   `Box::new(b)` of another type do not both become a `Box<dyn Trait>` return type, and
//!   `return Err(Box::new(e))` does not become `Err(Box<dyn Error>)`; write `Err(e.into())` or
//!   `Box::new(a) as Box<dyn Trait>`. (A body of one type is still coerced once, at the tail.)
//! * `start_paused = true` (either attribute) adds `.start_paused(true)` to the builder: the
//!   runtime's clock starts paused, as with `heist::time::pause`.
//! * `rt` is a hygienic (`Span::mixed_site`) name: the body cannot see or clash with it.
//!
//! Mistakes are reported with `compile_error!` at the offending tokens: the attribute on
//! something other than an `async fn`, an unknown argument or flavor, `worker_threads` with
//! `flavor = "current_thread"`, a `worker_threads` that is not a
//! positive integer literal or is given twice, a function that takes arguments, and (for
//! `#[heist::test]`) a second `#[test]` attribute. The expansion still emits the function (as
//! it came when it is not an `async fn`, rewritten otherwise) so that the error is not buried
//! under others; only arguments on `fn main` also get rustc's own "`main` function has wrong
//! type".
//!
//! The parsing is hand-written on `proc_macro` tokens (no `syn`/`quote`): the rewrite only needs
//! to find the attributes, the `async` and `fn` keywords, the argument list and the body.

#![warn(missing_docs)]

use proc_macro::{Delimiter, Group, Ident, Literal, Spacing, Span, TokenStream, TokenTree};

// rustdoc shows these item docs after `heist`'s docs on its re-export, so they are written to
// read well both there and on this crate's own page.

/// Defined in the `heist-macros` crate, whose documentation details the expansion; `heist`
/// re-exports it as `heist::main`, with examples.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Main, args, item)
}

/// Defined in the `heist-macros` crate, whose documentation details the expansion; `heist`
/// re-exports it as `heist::test`, with examples.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Test, args, item)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Main,
    Test,
}

impl Kind {
    fn attribute(self) -> &'static str {
        match self {
            Kind::Main => "#[heist::main]",
            Kind::Test => "#[heist::test]",
        }
    }
}

/// A `compile_error!` waiting to be emitted.
struct Error {
    span: Span,
    message: String,
}

impl Error {
    fn new(span: Span, message: impl Into<String>) -> Self {
        Error {
            span,
            message: message.into(),
        }
    }

    /// `::core::compile_error! { "message" }`, every token at the error's span.
    fn into_tokens(self) -> TokenStream {
        let mut message = TokenTree::Literal(Literal::string(&self.message));
        message.set_span(self.span);
        let tokens: TokenStream = "::core::compile_error!".parse().expect("a valid macro path");
        let mut tokens = respan(tokens, self.span);
        tokens.extend([TokenTree::Group(with_span(
            Group::new(Delimiter::Brace, message.into()),
            self.span,
        ))]);
        tokens
    }
}

/// The attribute's arguments.
#[derive(Default)]
struct Args {
    flavor: Option<Flavor>,
    worker_threads: Option<usize>,
    /// `start_paused = true`: the runtime's clock starts paused (`Builder::start_paused`).
    start_paused: Option<bool>,
}

/// Which runtime the attribute builds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// `Builder::new_current_thread()`.
    CurrentThread,
    /// `Builder::new_multi_thread()`.
    MultiThread,
}

/// An `async fn` item, cut where the rewrite needs it.
struct ItemFn {
    /// The outer attributes, `#` and `[...]` as they came.
    attrs: Vec<TokenTree>,
    /// Visibility, qualifiers without `async`, `fn`, name, generics, arguments, return type and
    /// `where` clause, as they came.
    signature: Vec<TokenTree>,
    /// The argument list, `(...)`.
    inputs: Group,
    /// The body, `{...}`.
    body: Group,
    /// The span of a `#[test]` already among `attrs`.
    test_attr: Option<Span>,
}

fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let item_fn = match parse_fn(kind, item.clone()) {
        Ok(item_fn) => item_fn,
        Err(error) => {
            // The item as it was: it is not an `async fn`, so it compiles (or fails) on its own.
            let mut tokens = error.into_tokens();
            tokens.extend(item);
            return tokens;
        }
    };
    let mut errors = TokenStream::new();
    let args = parse_args(kind, args).unwrap_or_else(|error| {
        errors.extend(error.into_tokens());
        Args::default()
    });
    if !item_fn.inputs.stream().is_empty() {
        let message = match kind {
            Kind::Main => "#[heist::main] goes on a function without arguments: read the command line \
                           with `std::env::args()` instead"
                .to_string(),
            Kind::Test => "#[heist::test] goes on a function without arguments: tests take none".to_string(),
        };
        errors.extend(Error::new(item_fn.inputs.span(), message).into_tokens());
    }
    if let Some(span) = item_fn.test_attr.filter(|_| kind == Kind::Test) {
        let message = "#[heist::test] already adds #[test]: remove this second test attribute";
        errors.extend(Error::new(span, message).into_tokens());
    }
    errors.extend(rewrite(kind, &args, item_fn));
    errors
}

/// The plain `fn` that builds the runtime and `block_on`s the body.
fn rewrite(kind: Kind, args: &Args, item_fn: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        signature,
        body,
        test_attr,
        ..
    } = item_fn;
    let mut tokens = TokenStream::new();
    if kind == Kind::Test && test_attr.is_none() {
        tokens.extend(
            "#[::core::prelude::v1::test]"
                .parse::<TokenStream>()
                .expect("a valid attribute"),
        );
    }
    tokens.extend(attrs);
    tokens.extend(signature);

    // `worker_threads` alone means multi_thread (heist's tests said so before flavors);
    // otherwise tests default to current_thread and `main` to multi_thread, as tokio's do.
    let flavor = args.flavor.unwrap_or(match (kind, args.worker_threads) {
        (_, Some(_)) | (Kind::Main, None) => Flavor::MultiThread,
        (Kind::Test, None) => Flavor::CurrentThread,
    });
    let builder = match flavor {
        Flavor::CurrentThread => "new_current_thread()",
        Flavor::MultiThread => "new_multi_thread()",
    };
    let mut workers = match args.worker_threads {
        Some(n) => format!(".worker_threads({})", Literal::usize_unsuffixed(n)),
        None => String::new(),
    };
    if let Some(paused) = args.start_paused {
        workers.push_str(&format!(".start_paused({paused})"));
    }
    let message = format!("{} could not start the heist runtime", kind.attribute());
    let runtime = format!(
        "#[allow(clippy::expect_used)] \
         let rt = ::heist::runtime::Builder::{builder}{workers}.build().expect({message:?}); \
         rt.block_on"
    );
    // Call-site hygiene for the paths, mixed-site for the `rt` local (the body cannot name it),
    // located at the body so that a type error about the body's value points there.
    let located = Span::call_site().located_at(body.span());
    let local = Span::mixed_site().located_at(body.span());
    let mut new_body = TokenStream::new();
    for token in respan(runtime.parse().expect("valid runtime tokens"), located) {
        new_body.extend([match token {
            TokenTree::Ident(ident) if ident.to_string() == "rt" => TokenTree::Ident(Ident::new("rt", local)),
            token => token,
        }]);
    }
    let async_block: TokenStream = respan("async move".parse().expect("valid tokens"), located);
    let mut call_args = async_block;
    call_args.extend([TokenTree::Group(body.clone())]);
    new_body.extend([TokenTree::Group(with_span(
        Group::new(Delimiter::Parenthesis, call_args),
        located,
    ))]);
    tokens.extend([TokenTree::Group(with_span(
        Group::new(Delimiter::Brace, new_body),
        body.span(),
    ))]);
    tokens
}

fn parse_fn(kind: Kind, item: TokenStream) -> Result<ItemFn, Error> {
    let attribute = kind.attribute();
    let tokens: Vec<TokenTree> = item.into_iter().collect();

    let mut attrs = Vec::new();
    let mut test_attr = None;
    let mut i = 0;
    while let (Some(TokenTree::Punct(pound)), Some(TokenTree::Group(group))) =
        (tokens.get(i), tokens.get(i + 1))
    {
        if pound.as_char() != '#' || group.delimiter() != Delimiter::Bracket {
            break;
        }
        if is_test_attribute(group) {
            test_attr.get_or_insert(group.span());
        }
        attrs.extend_from_slice(&tokens[i..i + 2]);
        i += 2;
    }
    let rest = &tokens[i..];

    let not_a_fn = || {
        let span = rest.first().map_or_else(Span::call_site, TokenTree::span);
        Error::new(
            span,
            format!("{attribute} goes on an `async fn`, not on this item"),
        )
    };
    let fn_index = rest
        .iter()
        .position(|token| matches!(token, TokenTree::Ident(ident) if ident.to_string() == "fn"))
        .ok_or_else(not_a_fn)?;
    let body = match rest.last() {
        Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => group.clone(),
        _ => return Err(not_a_fn()),
    };
    let async_index = rest[..fn_index]
        .iter()
        .position(|token| matches!(token, TokenTree::Ident(ident) if ident.to_string() == "async"))
        .ok_or_else(|| {
            Error::new(
                rest[fn_index].span(),
                format!("{attribute} goes on an `async fn`: add `async` before `fn`"),
            )
        })?;

    // The argument list: the first `(...)` after the name that is not inside the generics.
    let mut depth = 0usize;
    let mut previous_joint_minus = false;
    let mut inputs = None;
    for token in &rest[fn_index + 1..rest.len() - 1] {
        match token {
            TokenTree::Punct(punct) if punct.as_char() == '<' => depth += 1,
            TokenTree::Punct(punct) if punct.as_char() == '>' && !previous_joint_minus => {
                depth = depth.saturating_sub(1);
            }
            TokenTree::Group(group) if group.delimiter() == Delimiter::Parenthesis && depth == 0 => {
                inputs = Some(group.clone());
                break;
            }
            _ => {}
        }
        previous_joint_minus = matches!(
            token,
            TokenTree::Punct(punct) if punct.as_char() == '-' && punct.spacing() == Spacing::Joint
        );
    }
    let inputs = inputs.ok_or_else(not_a_fn)?;

    let signature = rest[..rest.len() - 1]
        .iter()
        .enumerate()
        .filter(|&(index, _)| index != async_index)
        .map(|(_, token)| token.clone())
        .collect();
    Ok(ItemFn {
        attrs,
        signature,
        inputs,
        body,
        test_attr,
    })
}

/// `test`, or a path to the built-in like `::core::prelude::v1::test`, without arguments.
fn is_test_attribute(group: &Group) -> bool {
    let mut segments = Vec::new();
    for token in group.stream() {
        match token {
            TokenTree::Ident(ident) => segments.push(ident.to_string()),
            TokenTree::Punct(punct) if punct.as_char() == ':' => {}
            _ => return false,
        }
    }
    match segments.as_slice() {
        [only] => only == "test",
        [first, .., last] => (first == "core" || first == "std") && last == "test",
        [] => false,
    }
}

fn parse_args(kind: Kind, args: TokenStream) -> Result<Args, Error> {
    let attribute = kind.attribute();
    let open = attribute.trim_end_matches(']');
    let accepted = format!(
        "{attribute} accepts `flavor = \"current_thread\"` or `flavor = \"multi_thread\"`, \
         `worker_threads = N` (N a positive integer, multi_thread only) and `start_paused = true`, \
         as in `{open}(flavor = \"multi_thread\", worker_threads = 4)]`"
    );
    let mut parsed = Args::default();
    let mut worker_threads_span = None;
    let mut tokens = args.into_iter().peekable();
    while let Some(token) = tokens.next() {
        let key = match &token {
            TokenTree::Ident(ident) => ident.to_string(),
            other => {
                return Err(Error::new(
                    other.span(),
                    format!("expected an argument here: {accepted}"),
                ));
            }
        };
        if key == "start_paused" {
            let value = parse_start_paused(&token, &mut tokens)?;
            if parsed.start_paused.replace(value).is_some() {
                return Err(Error::new(token.span(), "`start_paused` is given twice"));
            }
            match tokens.next() {
                None => {}
                Some(TokenTree::Punct(punct)) if punct.as_char() == ',' => {}
                Some(other) => {
                    return Err(Error::new(
                        other.span(),
                        format!("expected `,` between arguments: {accepted}"),
                    ));
                }
            }
            continue;
        }
        if key != "worker_threads" && key != "flavor" {
            return Err(Error::new(
                token.span(),
                format!("unknown argument `{key}`: {accepted}"),
            ));
        }
        let example = if key == "flavor" {
            "`flavor = \"current_thread\"`"
        } else {
            "`worker_threads = 4`"
        };
        match tokens.next() {
            Some(TokenTree::Punct(punct)) if punct.as_char() == '=' => {}
            Some(other) => {
                return Err(Error::new(
                    other.span(),
                    format!("expected `=` after `{key}`, as in {example}"),
                ));
            }
            None => {
                return Err(Error::new(
                    token.span(),
                    format!("`{key}` needs a value, as in {example}"),
                ));
            }
        }
        let value = tokens
            .next()
            .ok_or_else(|| Error::new(token.span(), format!("`{key}` needs a value, as in {example}")))?;
        if key == "flavor" {
            let flavor = parse_flavor(&value)?;
            if parsed.flavor.replace(flavor).is_some() {
                return Err(Error::new(token.span(), "`flavor` is given twice"));
            }
        } else {
            let n = parse_worker_threads(&value)?;
            if parsed.worker_threads.replace(n).is_some() {
                return Err(Error::new(token.span(), "`worker_threads` is given twice"));
            }
            worker_threads_span = Some(token.span());
        }
        match tokens.next() {
            None => {}
            Some(TokenTree::Punct(punct)) if punct.as_char() == ',' => {}
            Some(other) => {
                return Err(Error::new(
                    other.span(),
                    format!("expected `,` between arguments: {accepted}"),
                ));
            }
        }
    }
    if let (Some(Flavor::CurrentThread), Some(span)) = (parsed.flavor, worker_threads_span) {
        return Err(Error::new(
            span,
            format!(
                "`worker_threads` is for the multi_thread flavor: a current_thread runtime runs \
                 its tasks on the thread that calls block_on. Remove it, or use \
                 `{open}(flavor = \"multi_thread\", worker_threads = N)]`"
            ),
        ));
    }
    Ok(parsed)
}

/// `"current_thread"` or `"multi_thread"`, as a string literal (possibly in an invisible group).
fn parse_flavor(value: &TokenTree) -> Result<Flavor, Error> {
    if let TokenTree::Group(group) = value {
        let inner: Vec<TokenTree> = group.stream().into_iter().collect();
        if let ([single], Delimiter::None) = (inner.as_slice(), group.delimiter()) {
            return parse_flavor(single);
        }
    }
    match value.to_string().as_str() {
        "\"current_thread\"" => Ok(Flavor::CurrentThread),
        "\"multi_thread\"" => Ok(Flavor::MultiThread),
        other => Err(Error::new(
            value.span(),
            format!(
                "unknown flavor {other}: `flavor` is \"current_thread\" (tasks run on the thread \
                 that calls block_on) or \"multi_thread\" (worker threads)"
            ),
        )),
    }
}

/// `= true` or `= false` after `start_paused`.
fn parse_start_paused(
    key: &TokenTree,
    tokens: &mut std::iter::Peekable<proc_macro::token_stream::IntoIter>,
) -> Result<bool, Error> {
    let usage = "`start_paused` takes `true` or `false`, as in `start_paused = true`";
    match tokens.next() {
        Some(TokenTree::Punct(punct)) if punct.as_char() == '=' => {}
        Some(other) => return Err(Error::new(other.span(), usage)),
        None => return Err(Error::new(key.span(), usage)),
    }
    match tokens.next() {
        Some(TokenTree::Ident(value)) if value.to_string() == "true" => Ok(true),
        Some(TokenTree::Ident(value)) if value.to_string() == "false" => Ok(false),
        Some(other) => Err(Error::new(other.span(), usage)),
        None => Err(Error::new(key.span(), usage)),
    }
}

/// A positive integer literal, possibly wrapped in an invisible group (from a `macro_rules!`
/// fragment) or suffixed (`4usize`).
fn parse_worker_threads(value: &TokenTree) -> Result<usize, Error> {
    if let TokenTree::Group(group) = value {
        let inner: Vec<TokenTree> = group.stream().into_iter().collect();
        if let ([single], Delimiter::None) = (inner.as_slice(), group.delimiter()) {
            return parse_worker_threads(single);
        }
    }
    let text = match value {
        TokenTree::Punct(punct) if punct.as_char() == '-' => "a negative number".to_string(),
        other => format!("`{other}`"),
    };
    let not_a_number = || {
        Error::new(
            value.span(),
            format!(
                "`worker_threads` takes a positive integer literal, like `worker_threads = 4`, not {text}"
            ),
        )
    };
    if !matches!(value, TokenTree::Literal(_)) {
        return Err(not_a_number());
    }
    let n = parse_integer(&value.to_string()).ok_or_else(not_a_number)?;
    if n == 0 {
        return Err(Error::new(
            value.span(),
            "`worker_threads = 0`: a runtime needs at least 1 worker thread",
        ));
    }
    usize::try_from(n)
        .map_err(|_| Error::new(value.span(), format!("`worker_threads = {value}` is too large")))
}

/// The value of an integer literal's text: decimal, `0x`, `0o` or `0b`, `_` separators and an
/// integer suffix allowed. `None` for anything else (floats, strings, chars...).
fn parse_integer(text: &str) -> Option<u128> {
    const SUFFIXES: [&str; 12] = [
        "usize", "isize", "u128", "i128", "u64", "i64", "u32", "i32", "u16", "i16", "u8", "i8",
    ];
    let text = text.replace('_', "");
    let (digits, radix) = if let Some(digits) = text.strip_prefix("0x") {
        (digits, 16)
    } else if let Some(digits) = text.strip_prefix("0o") {
        (digits, 8)
    } else if let Some(digits) = text.strip_prefix("0b") {
        (digits, 2)
    } else {
        (text.as_str(), 10)
    };
    let digits = SUFFIXES
        .iter()
        .find_map(|suffix| digits.strip_suffix(suffix))
        .unwrap_or(digits);
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u128::from_str_radix(digits, radix).ok()
}

/// `tokens` with every span, inside groups too, set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => TokenTree::Group(with_span(
                Group::new(group.delimiter(), respan(group.stream(), span)),
                span,
            )),
            mut token => {
                token.set_span(span);
                token
            }
        })
        .collect()
}

fn with_span(mut group: Group, span: Span) -> Group {
    group.set_span(span);
    group
}

/// `heist::select!`'s helper, not for direct use: the pattern given, with every `ref` and
/// `mut` binding modifier removed. `select!` tests whether a branch's output matches its
/// pattern on a *reference* to the output (the output must survive the test: the handler
/// binds it later, after the other futures are dropped), and under a reference default binding
/// modes apply, where edition 2024 rejects `ref` and `mut`. The bindings of the test are never
/// used, so what the modifiers meant does not matter there.
#[doc(hidden)]
#[proc_macro]
pub fn select_clean_pattern(input: TokenStream) -> TokenStream {
    fn clean(tokens: TokenStream) -> TokenStream {
        tokens
            .into_iter()
            .filter(|token| !matches!(token, TokenTree::Ident(ident) if matches!(ident.to_string().as_str(), "ref" | "mut")))
            .map(|token| match token {
                TokenTree::Group(group) => {
                    let mut cleaned = Group::new(group.delimiter(), clean(group.stream()));
                    cleaned.set_span(group.span());
                    TokenTree::Group(cleaned)
                }
                other => other,
            })
            .collect()
    }
    clean(input)
}
