//! Procedural macros for the `gmp` runtime: `#[gmp::main]` and `#[gmp::test]`.
//!
//! This crate is an implementation detail of `gmp`; use the macros through
//! their re-exports, `gmp::main` and `gmp::test`.
//!
//! Both attributes accept the same comma separated `key = value` arguments:
//!
//! | argument               | builder call                                              |
//! |------------------------|-----------------------------------------------------------|
//! | `procs = 4`            | `.procs(4)` (must be at least 1)                          |
//! | `max_threads = 64`     | `.max_threads(64)` (must be at least 1)                   |
//! | `time_slice_ms = 10`   | `.time_slice(std::time::Duration::from_millis(10))`       |
//! | `thread_name = "w"`    | `.thread_name("w")`                                       |
//! | `tokio_compat = true`  | `.tokio_compat(true)` (needs gmp's `tokio-compat` feature) |
//! | `start_paused = true`  | `.start_paused(true)`: virtual time (`gmp::time::pause`)  |
//! | `crate = "path::gmp"`  | use `path::gmp` instead of `::gmp` in the expansion       |

use proc_macro::TokenStream;
use proc_macro2::{Delimiter, Span, TokenStream as TokenStream2, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, FnArg, Lit, ReturnType, Signature, Visibility};

/// Marks an `async fn` as the program's entry point, run on a gmp runtime.
///
/// The function is rewritten into a synchronous function that builds a
/// runtime with `gmp::Runtime::builder()`, applies the attribute's arguments,
/// and drives the body to completion with `Runtime::block_on`. The runtime is
/// shut down when `block_on` returns.
///
/// The function must be `async` and take no parameters. It may return any
/// type that `main` can return, for example `Result<(), Box<dyn Error>>`.
/// Attributes, visibility and the return type are kept as written.
///
/// # Arguments
///
/// All arguments are optional and written as `key = literal`, separated by
/// commas; each may be given at most once.
///
/// * `procs = N` — number of processors (Ps), i.e. how many tasks run in
///   parallel. Must be at least 1. Default: the `GMAXPROCS` environment
///   variable, else the number of CPUs.
/// * `max_threads = N` — upper bound on OS threads (Ms). Must be at least 1.
/// * `time_slice_ms = N` — how long a task may run before sysmon asks it to
///   yield, in milliseconds.
/// * `thread_name = "name"` — name of the runtime's worker threads.
/// * `tokio_compat = true` — start a small tokio runtime beside gmp's and enter
///   it on every gmp thread, so tokio-bound libraries (reqwest, sqlx) work in
///   tasks. Needs gmp's `tokio-compat` feature.
/// * `crate = "path"` — path to the `gmp` crate, for when it is renamed or
///   re-exported (default `::gmp`).
/// * `start_paused = true` — start with the runtime's clock paused (virtual
///   time that auto-advances when no task can run; see `gmp::time::pause`).
///
/// Values must be literals; to compute a configuration at run time, use
/// `gmp::Runtime::builder()` directly.
///
/// # Examples
///
/// ```ignore
/// #[gmp::main]
/// async fn main() {
///     let answer = gmp::spawn(async { 6 * 7 }).await.unwrap();
///     println!("{answer}");
/// }
/// ```
///
/// With arguments and a fallible `main`:
///
/// ```ignore
/// use std::error::Error;
///
/// #[gmp::main(procs = 4, thread_name = "server-worker")]
/// async fn main() -> Result<(), Box<dyn Error>> {
///     let config = std::fs::read_to_string("server.toml")?;
///     println!("{} bytes of config", config.len());
///     Ok(())
/// }
/// ```
///
/// The second example expands to roughly:
///
/// ```ignore
/// fn main() -> Result<(), Box<dyn Error>> {
///     let body = async move {
///         // The annotation lets `?` infer the error type.
///         let ret: Result<(), Box<dyn Error>> = {
///             let config = std::fs::read_to_string("server.toml")?;
///             println!("{} bytes of config", config.len());
///             Ok(())
///         };
///         return ret;
///     };
///     ::gmp::Runtime::builder()
///         .procs(4usize)
///         .thread_name("server-worker")
///         .build()
///         .expect("gmp: failed to build the runtime")
///         .block_on(body)
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Main, args.into(), item.into()).into()
}

/// Marks an `async fn` as a test, run on its own gmp runtime.
///
/// The function becomes a synchronous `#[test]` function that builds a fresh
/// runtime (exactly like [`macro@main`]) and blocks on the body. Every test
/// gets its own runtime, which is shut down when the test returns.
///
/// The function must be `async` and take no parameters. It may return `()`
/// or a `Result`, like any `#[test]`. Other attributes such as
/// `#[should_panic]` and `#[ignore]` are kept. Do not add `#[test]` yourself:
/// `#[gmp::test]` already does.
///
/// It accepts the same arguments as [`macro@main`]: `procs`, `max_threads`,
/// `time_slice_ms`, `thread_name`, `tokio_compat`, `crate` and `start_paused`.
///
/// # Examples
///
/// ```ignore
/// #[gmp::test]
/// async fn spawn_and_join() {
///     let handle = gmp::spawn(async { 1 + 1 });
///     assert_eq!(handle.await.unwrap(), 2);
/// }
///
/// #[gmp::test(procs = 1)]
/// async fn single_processor() -> Result<(), gmp::JoinError> {
///     let value = gmp::spawn(async { "done" }).await?;
///     assert_eq!(value, "done");
///     Ok(())
/// }
///
/// #[gmp::test]
/// #[should_panic(expected = "boom")]
/// async fn panics() {
///     panic!("boom");
/// }
/// ```
///
/// `#[gmp::test(procs = 1)] async fn single_processor() { body }` expands to
/// roughly:
///
/// ```ignore
/// #[::core::prelude::v1::test]
/// fn single_processor() {
///     let body = async move {
///         let ret: () = { body };
///         return ret;
///     };
///     ::gmp::Runtime::builder()
///         .procs(1usize)
///         .build()
///         .expect("gmp: failed to build the runtime")
///         .block_on(body)
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Test, args.into(), item.into()).into()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Main,
    Test,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "`#[gmp::main]`",
            Kind::Test => "`#[gmp::test]`",
        }
    }
}

/// Names accepted as arguments, in the order they are listed in messages.
const ARGUMENTS: &[&str] = &[
    "procs",
    "max_threads",
    "time_slice_ms",
    "thread_name",
    "tokio_compat",
    "crate",
    "start_paused",
];

/// Collects errors so that all of them are reported in one go.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(existing) => existing.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn to_compile_error(&self) -> TokenStream2 {
        self.0
            .as_ref()
            .map(syn::Error::to_compile_error)
            .unwrap_or_default()
    }
}

/// The parsed attribute arguments.
struct Config {
    krate: TokenStream2,
    /// Builder method calls, e.g. `.procs(4usize)`, in the order written.
    setters: Vec<TokenStream2>,
    /// Where `tokio_compat` was given: the expansion checks that gmp has the feature.
    tokio_compat: Option<Span>,
}

fn expand(kind: Kind, args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let mut errors = Errors::default();
    let config = parse_args(kind, args, &mut errors);

    let parser = |input: ParseStream| parse_async_fn(kind, input);
    let func = match parser.parse2(item.clone()) {
        Ok(func) => func,
        Err(error) => {
            // Not a function: report the error and leave the item as it was so
            // that no follow-up errors (e.g. "`main` function not found") are
            // produced.
            errors.push(error);
            let errors = errors.to_compile_error();
            return quote! { #errors #item };
        }
    };

    let expanded = expand_fn(kind, func, &config, &mut errors);
    let errors = errors.to_compile_error();
    quote! { #errors #expanded }
}

// ---------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------

fn parse_args(kind: Kind, args: TokenStream2, errors: &mut Errors) -> Config {
    let mut config = Config {
        krate: quote!(::gmp),
        setters: Vec::new(),
        tokio_compat: None,
    };
    let mut seen: Vec<String> = Vec::new();

    for arg in split_on_commas(args) {
        if let Some((key, value)) = parse_arg(kind, arg, errors) {
            let name = key.to_string();
            if !ARGUMENTS.contains(&name.as_str()) {
                errors.push(unknown_argument(kind, &key));
                continue;
            }
            if seen.contains(&name) {
                errors.push(syn::Error::new(
                    key.span(),
                    format!(
                        "duplicate argument `{name}`: it is already set earlier in this \
                         {} attribute",
                        kind.attr()
                    ),
                ));
                continue;
            }
            seen.push(name.clone());
            match apply_arg(&name, &key, &value, &mut config) {
                Ok(()) => {}
                Err(error) => errors.push(error),
            }
        }
    }
    config
}

/// Splits the argument list on top-level commas, dropping empty pieces (so a
/// trailing comma is accepted).
fn split_on_commas(args: TokenStream2) -> Vec<Vec<TokenTree>> {
    let mut pieces = vec![Vec::new()];
    for tree in args {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ',' => pieces.push(Vec::new()),
            _ => pieces.last_mut().expect("never empty").push(tree),
        }
    }
    pieces.retain(|piece| !piece.is_empty());
    pieces
}

/// Parses one `key = value` argument into its key and value tokens.
fn parse_arg(
    kind: Kind,
    arg: Vec<TokenTree>,
    errors: &mut Errors,
) -> Option<(proc_macro2::Ident, Vec<TokenTree>)> {
    let mut trees = arg.into_iter();
    let key = match trees.next() {
        Some(TokenTree::Ident(key)) => key,
        Some(other) => {
            let rest: TokenStream2 = std::iter::once(other).chain(trees).collect();
            errors.push(syn::Error::new_spanned(
                rest,
                format!(
                    "expected an argument of the form `name = value`, where name is one of \
                     {}",
                    list_arguments()
                ),
            ));
            return None;
        }
        None => return None,
    };
    match trees.next() {
        Some(TokenTree::Punct(eq)) if eq.as_char() == '=' => {}
        other => {
            let span = other.as_ref().map_or(key.span(), TokenTree::span);
            let message = if ARGUMENTS.contains(&key.to_string().as_str()) {
                format!("`{key}` needs a value: write `{key} = {}`", example(&key))
            } else if other.is_none() {
                // A bare unknown word: report it as an unknown argument.
                errors.push(unknown_argument(kind, &key));
                return None;
            } else {
                format!("expected `=` after `{key}`")
            };
            errors.push(syn::Error::new(span, message));
            return None;
        }
    }
    let value: Vec<TokenTree> = trees.collect();
    if value.is_empty() {
        errors.push(syn::Error::new(
            key.span(),
            format!("`{key}` is missing its value after `=`"),
        ));
        return None;
    }
    Some((key, value))
}

fn apply_arg(
    name: &str,
    key: &proc_macro2::Ident,
    value: &[TokenTree],
    config: &mut Config,
) -> syn::Result<()> {
    let span = key.span();
    match name {
        "procs" => {
            let n = int_arg(key, IntTy::Usize, value, 1)?;
            config.setters.push(quote_spanned!(span=> .procs(#n)));
        }
        "max_threads" => {
            let n = int_arg(key, IntTy::Usize, value, 1)?;
            config.setters.push(quote_spanned!(span=> .max_threads(#n)));
        }
        "time_slice_ms" => {
            let n = int_arg(key, IntTy::U64, value, 0)?;
            config
                .setters
                .push(quote_spanned!(span=> .time_slice(::std::time::Duration::from_millis(#n))));
        }
        "thread_name" => {
            let s = str_arg(key, value)?;
            config.setters.push(quote_spanned!(span=> .thread_name(#s)));
        }
        "tokio_compat" => {
            let b = bool_arg(key, value)?;
            config
                .setters
                .push(quote_spanned!(span=> .tokio_compat(#b)));
            config.tokio_compat = Some(span);
        }
        "start_paused" => {
            let b = bool_arg(key, value)?;
            config
                .setters
                .push(quote_spanned!(span=> .start_paused(#b)));
        }
        "crate" => {
            let s = str_arg(key, value)?;
            let path: syn::Path = s.parse().map_err(|_| {
                syn::Error::new(
                    s.span(),
                    format!(
                        "`crate` expects a path to the gmp crate, like `crate = \"::gmp\"`; \
                         `{}` is not a path",
                        s.value()
                    ),
                )
            })?;
            config.krate = path.into_token_stream();
        }
        _ => unreachable!("argument names are checked by the caller"),
    }
    Ok(())
}

/// The integer type a builder setter takes.
#[derive(Clone, Copy)]
enum IntTy {
    Usize,
    U64,
}

impl IntTy {
    fn name(self) -> &'static str {
        match self {
            IntTy::Usize => "usize",
            IntTy::U64 => "u64",
        }
    }
}

/// Parses an integer literal argument that must fit in `ty` and be `>= min`,
/// and returns it as a literal with the `ty` suffix.
fn int_arg(
    key: &proc_macro2::Ident,
    ty: IntTy,
    value: &[TokenTree],
    min: u64,
) -> syn::Result<proc_macro2::Literal> {
    let Some(lit) = single_literal(value) else {
        let tokens: TokenStream2 = value.iter().cloned().collect();
        let message = if matches!(value.first(), Some(TokenTree::Punct(p)) if p.as_char() == '-') {
            format!("`{key}` cannot be negative")
        } else {
            format!(
                "`{key}` expects an integer literal, like `{key} = {}`; constants and \
                 expressions are not supported here, use `Runtime::builder()` directly to \
                 compute the configuration at run time",
                example(key)
            )
        };
        return Err(syn::Error::new_spanned(tokens, message));
    };
    let Lit::Int(int) = &lit else {
        return Err(syn::Error::new_spanned(
            lit,
            format!(
                "`{key}` expects an integer literal, like `{key} = {}`",
                example(key)
            ),
        ));
    };
    let ty_name = ty.name();
    let suffix = int.suffix();
    if !suffix.is_empty() && suffix != ty_name {
        return Err(syn::Error::new(
            int.span(),
            format!("`{key}` takes a `{ty_name}`, so the `{suffix}` suffix is not allowed here"),
        ));
    }
    let too_large = || {
        syn::Error::new(
            int.span(),
            format!("`{key}` is too large: `{int}` does not fit in a `{ty_name}`"),
        )
    };
    let n: u64 = int.base10_parse().map_err(|_| too_large())?;
    if n < min {
        let why = match key.to_string().as_str() {
            "procs" => ": a runtime needs at least one processor (P) to run tasks",
            "max_threads" => ": a runtime needs at least one thread (M) to run tasks",
            _ => "",
        };
        return Err(syn::Error::new(
            int.span(),
            format!("`{key}` must be at least {min}{why}"),
        ));
    }
    let mut out = match ty {
        IntTy::Usize => {
            proc_macro2::Literal::usize_suffixed(usize::try_from(n).map_err(|_| too_large())?)
        }
        IntTy::U64 => proc_macro2::Literal::u64_suffixed(n),
    };
    out.set_span(int.span());
    Ok(out)
}

fn bool_arg(key: &proc_macro2::Ident, value: &[TokenTree]) -> syn::Result<syn::LitBool> {
    match value {
        [TokenTree::Ident(b)] if b == "true" || b == "false" => {
            Ok(syn::LitBool::new(b == "true", b.span()))
        }
        [TokenTree::Group(g)] if g.delimiter() == Delimiter::None => {
            bool_arg(key, &g.stream().into_iter().collect::<Vec<_>>())
        }
        _ => Err(syn::Error::new_spanned(
            value.iter().cloned().collect::<TokenStream2>(),
            format!("`{key}` expects `true` or `false`, like `{key} = true`"),
        )),
    }
}

fn str_arg(key: &proc_macro2::Ident, value: &[TokenTree]) -> syn::Result<syn::LitStr> {
    match single_literal(value) {
        Some(Lit::Str(s)) => Ok(s),
        _ => Err(syn::Error::new_spanned(
            value.iter().cloned().collect::<TokenStream2>(),
            format!(
                "`{key}` expects a string literal, like `{key} = {}`",
                example(key)
            ),
        )),
    }
}

/// Returns the value as a literal if it is exactly one literal token
/// (looking through invisible groups, which `macro_rules!` may add).
fn single_literal(value: &[TokenTree]) -> Option<Lit> {
    match value {
        [TokenTree::Literal(lit)] => Some(Lit::new(lit.clone())),
        [TokenTree::Group(group)] if group.delimiter() == Delimiter::None => {
            let inner: Vec<TokenTree> = group.stream().into_iter().collect();
            single_literal(&inner)
        }
        _ => None,
    }
}

fn example(key: &proc_macro2::Ident) -> &'static str {
    match key.to_string().as_str() {
        "procs" => "4",
        "max_threads" => "64",
        "time_slice_ms" => "10",
        "thread_name" => "\"my-worker\"",
        "tokio_compat" => "true",
        "crate" => "\"::gmp\"",
        "start_paused" => "true",
        _ => "...",
    }
}

fn list_arguments() -> String {
    ARGUMENTS
        .iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn unknown_argument(kind: Kind, key: &proc_macro2::Ident) -> syn::Error {
    let name = key.to_string();
    let hint = match name.as_str() {
        "worker_threads" => "; gmp calls the number of parallel workers `procs`".to_string(),
        "flavor" => "; gmp has one scheduler, so there is no flavor to pick\n\
             for tokio's `current_thread`, write `procs = 1`: spawned tasks then run one at a \
             time, but on a runtime thread (an M), not on the thread running the body, so the \
             body and one task can run at the same time, and blocking sections may add Ms; for \
             `multi_thread`, leave it out (or set `procs = N`)"
            .to_string(),
        _ => match closest_argument(&name) {
            Some(candidate) => format!(", did you mean `{candidate}`?"),
            None => String::new(),
        },
    };
    syn::Error::new(
        key.span(),
        format!(
            "unknown argument `{name}` for {}{hint}\naccepted arguments: {}",
            kind.attr(),
            list_arguments()
        ),
    )
}

fn closest_argument(name: &str) -> Option<&'static str> {
    ARGUMENTS
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

// ---------------------------------------------------------------------------
// The function
// ---------------------------------------------------------------------------

/// A function whose body is kept as unparsed tokens: the body is only moved
/// into an `async` block, so there is no need to parse it (and a body with
/// syntax errors still expands, which keeps IDEs useful).
struct AsyncFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    body: TokenStream2,
}

fn parse_async_fn(kind: Kind, input: ParseStream) -> syn::Result<AsyncFn> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis: Visibility = input.parse()?;
    let fork = input.fork();
    if fork.parse::<Signature>().is_err() || !fork.peek(syn::token::Brace) {
        return Err(not_a_function(kind, input));
    }
    let sig: Signature = input.parse()?;
    let body: proc_macro2::Group = input.parse()?;
    if !input.is_empty() {
        return Err(input.error("unexpected tokens after the function body"));
    }
    Ok(AsyncFn {
        attrs,
        vis,
        sig,
        body: body.into_token_stream(),
    })
}

/// The error for an item that is not a function. It points at the item's
/// keywords and name (`struct Foo`, `impl Trait`, ...) rather than at the
/// whole item.
fn not_a_function(kind: Kind, input: ParseStream) -> syn::Error {
    const ITEM_KEYWORDS: &[&str] = &[
        "struct",
        "enum",
        "union",
        "trait",
        "impl",
        "mod",
        "static",
        "const",
        "type",
        "use",
        "extern",
        "crate",
        "unsafe",
        "auto",
        "macro_rules",
        "mut",
        "async",
        "fn",
    ];
    let mut head = TokenStream2::new();
    let mut rest = input.cursor();
    while let Some((tree, next)) = rest.token_tree() {
        let is_name = match &tree {
            TokenTree::Ident(ident) => !ITEM_KEYWORDS.contains(&ident.to_string().as_str()),
            TokenTree::Group(_) => break,
            _ => false,
        };
        head.extend(std::iter::once(tree));
        rest = next;
        if is_name {
            break;
        }
    }
    let message = format!("{} can only be applied to an `async fn`", kind.attr());
    if head.is_empty() {
        syn::Error::new(Span::call_site(), message)
    } else {
        syn::Error::new_spanned(head, message)
    }
}

fn expand_fn(kind: Kind, func: AsyncFn, config: &Config, errors: &mut Errors) -> TokenStream2 {
    let AsyncFn {
        mut attrs,
        vis,
        mut sig,
        body,
    } = func;
    let attr = kind.attr();

    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            format!("{attr} can only be applied to an `async fn`: add `async` before `fn`"),
        ));
    }
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new(
            constness.span,
            format!("{attr} cannot be applied to a `const fn`"),
        ));
    }
    let generics = &sig.generics;
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        let what = match kind {
            Kind::Main => "a `#[gmp::main]` function",
            Kind::Test => "a test function",
        };
        errors.push(syn::Error::new_spanned(
            generics,
            format!("{what} cannot have generic parameters"),
        ));
    }

    // Parameters cannot be passed in; turn them into unreachable `let`
    // bindings so the body still type-checks without follow-up errors.
    let mut param_bindings = Vec::new();
    if !sig.inputs.is_empty() {
        let message = match (kind, sig.ident == "main") {
            (Kind::Main, true) => "`main` cannot take parameters; read command-line arguments \
                                   with `std::env::args()`"
                .to_string(),
            (Kind::Main, false) => {
                "functions marked `#[gmp::main]` cannot take parameters".to_string()
            }
            (Kind::Test, _) => "test functions cannot take parameters".to_string(),
        };
        errors.push(syn::Error::new_spanned(&sig.inputs, message));
        for input in &sig.inputs {
            if let FnArg::Typed(pat_type) = input {
                let pat = &pat_type.pat;
                let ty = &pat_type.ty;
                param_bindings.push(quote! {
                    #[allow(unreachable_code, unused_variables)]
                    let #pat: #ty = ::core::unreachable!();
                });
            }
        }
    }
    if kind == Kind::Test {
        let (extra_tests, rest): (Vec<_>, Vec<_>) = attrs.into_iter().partition(is_test_attribute);
        for extra in &extra_tests {
            errors.push(syn::Error::new_spanned(
                extra,
                "`#[gmp::test]` already marks the function as a test; remove this `#[test]`",
            ));
        }
        attrs = rest;
    }

    sig.asyncness = None;
    sig.constness = None;
    sig.inputs = syn::punctuated::Punctuated::new();
    sig.generics = syn::Generics::default();

    // Give the body its declared type so that `?` and `return` inside the
    // `async` block infer the right error type, and so that a type mismatch
    // is reported at the body's tail expression rather than at the attribute.
    // A diverging body (`loop {}`, `panic!()`) must not cause warnings: the
    // binding starts with `_`, the `return` allows unreachable code, and
    // clippy's `diverging_sub_expression` (which flags any diverging `let`
    // initializer) is allowed on the `let`. `impl Trait` and `!` cannot be
    // written in a `let`; those go without the annotation.
    let ret_ident = syn::Ident::new("_ret", Span::mixed_site());
    let body_ident = syn::Ident::new("body", Span::mixed_site());
    let ret_ty = match &sig.output {
        ReturnType::Default => Some(quote!(())),
        ReturnType::Type(_, ty) => match &**ty {
            syn::Type::Never(_) => None,
            ty if contains_impl(ty.to_token_stream()) => None,
            ty => Some(ty.to_token_stream()),
        },
    };
    let typed_body = match ret_ty {
        Some(ty) => quote! {
            #[allow(clippy::diverging_sub_expression)]
            let #ret_ident: #ty = #body;
            #[allow(unreachable_code)]
            return #ret_ident;
        },
        None => body,
    };

    let krate = &config.krate;
    let setters = &config.setters;
    // Without gmp's `tokio-compat` feature this is a `compile_error!` that says so.
    let tokio_compat_check = config
        .tokio_compat
        .map(|span| quote_spanned!(span=> #krate::__tokio_compat_check!();));
    let test_attr = match kind {
        Kind::Main => quote!(),
        Kind::Test => quote!(#[::core::prelude::v1::test]),
    };
    let unreachable_allow = if param_bindings.is_empty() {
        quote!()
    } else {
        quote!(#[allow(unreachable_code)])
    };

    quote! {
        #test_attr
        #(#attrs)*
        #unreachable_allow
        #vis #sig {
            #[allow(clippy::needless_return)]
            let #body_ident = async move {
                #(#param_bindings)*
                #typed_body
            };
            #tokio_compat_check
            #[allow(clippy::expect_used, clippy::diverging_sub_expression)]
            {
                #krate::Runtime::builder()
                    #(#setters)*
                    .build()
                    .expect("gmp: failed to build the runtime")
                    .block_on(#body_ident)
            }
        }
    }
}

/// `#[test]`, `#[core::prelude::v1::test]`, `#[std::prelude::rust_2021::test]`...
fn is_test_attribute(attr: &Attribute) -> bool {
    let path = attr.path();
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match segments.as_slice() {
        [only] => only == "test",
        [first, .., last] => (first == "core" || first == "std") && last == "test",
        [] => false,
    }
}

fn contains_impl(tokens: TokenStream2) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => contains_impl(group.stream()),
        _ => false,
    })
}
