//! The lexer for the NATS configuration syntax: bytes in, [`Token`]s out.
//!
//! nats-server's grammar is defined by its lexer's state machine rather than by a written
//! grammar, and real configuration files lean on its corners (a bare `key value` pair, a `}`
//! that ends a top-level value, a `1k` that is a number but a `1kx` that is a string). To
//! accept exactly the files nats-server accepts, this lexer is also a state machine with an
//! explicit stack of return states, making the same decision as nats-server at every byte.
//! Where nats-server's choice looks odd (`[1]` is an error because `1]` lexes as a string),
//! a comment says so; those choices are kept on purpose.
//!
//! Input is bytes, decoded one UTF-8 character at a time; an invalid byte reads as U+FFFD of
//! width one, and a NUL byte reads like the end of input, both as in nats-server.

use std::collections::VecDeque;

/// Stands for the end of input, as a NUL character does in nats-server.
const END: char = '\0';

/// What a token is. Comments are tokens too because the parser's "key without a value at
/// the end of the file" check looks at the last token of any kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TokenKind {
    Key,
    String,
    Bool,
    Integer,
    Float,
    DateTime,
    ArrayStart,
    ArrayEnd,
    MapStart,
    MapEnd,
    Variable,
    Include,
    Comment,
    End,
}

/// One lexed token. `start` is the byte offset of its first character; `end` is the lexer's
/// offset when the token was emitted, which nats-server uses for the line it reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Token {
    pub kind: TokenKind,
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// A lexing failure: nats-server's message text, the offset of the character it is about
/// (the last one read), and the offset where lexing stopped (nats-server's line uses it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LexError {
    pub message: String,
    pub character_offset: usize,
    pub stop_offset: usize,
}

/// Where the lexer is. `Quoted*` states carry their closing quote character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Top,
    TopValueEnd,
    BlockStart,
    BlockValueEnd,
    BlockEnd,
    KeyStart,
    QuotedKey(char),
    Key,
    KeyEnd,
    IncludeStart,
    Include,
    QuotedInclude(char),
    BareInclude,
    Value,
    ArrayValue,
    ArrayValueEnd,
    MapKeyStart,
    MapQuotedKey(char),
    MapKey,
    MapKeyEnd,
    MapValue,
    MapValueEnd,
    MapEnd,
    SingleQuoted,
    DoubleQuoted,
    Bare,
    Block,
    Escape,
    EscapeHex,
    Number,
    NumberSuffix,
    DateAfterYear,
    NegativeNumberStart,
    NegativeNumber,
    FloatStart,
    Float,
    IpAddress,
    Comment,
    Finished,
}

type Step = Result<State, LexError>;

/// The lexer over one input. Pull tokens with [`Lexer::next_token`].
pub(super) struct Lexer<'a> {
    /// The whole input.
    input: &'a [u8],
    /// Start of the pending token text (`input[start..pos]`).
    start: usize,
    /// Offset of the next unread byte.
    pos: usize,
    /// Width of the character last read by `next`; 0 after reading the end.
    width: usize,
    /// True when the last move was a step back, so the current character is at `pos`.
    backed_up: bool,
    /// The current state; `Finished` once the end token was produced.
    state: State,
    /// States to return to once a value, key or comment is done.
    stack: Vec<State>,
    /// Unescaped text collected so far for a string with escapes.
    parts: Vec<u8>,
    /// Where the string collected in `parts` began; `Some` only while `parts` is in use.
    parts_origin: Option<usize>,
    /// The string state an escape sequence returns to (double-quoted or bare).
    string_state: State,
    /// Tokens produced but not yet handed out.
    ready: VecDeque<Token>,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            start: 0,
            pos: 0,
            width: 0,
            backed_up: false,
            state: State::Top,
            stack: Vec::new(),
            parts: Vec::new(),
            parts_origin: None,
            string_state: State::Bare,
            ready: VecDeque::new(),
        }
    }

    /// The next token; after the end token, keeps returning end tokens.
    pub(super) fn next_token(&mut self) -> Result<Token, LexError> {
        loop {
            if let Some(token) = self.ready.pop_front() {
                return Ok(token);
            }
            if self.state == State::Finished {
                return Ok(self.token(TokenKind::End, String::new(), self.pos));
            }
            self.state = self.step(self.state)?;
        }
    }

    fn step(&mut self, state: State) -> Step {
        match state {
            State::Top => self.top(),
            State::TopValueEnd => self.top_value_end(),
            State::BlockStart => self.block_start(),
            State::BlockValueEnd => self.block_value_end(),
            State::BlockEnd => self.block_end(),
            State::KeyStart => self.key_start(),
            State::QuotedKey(quote) => self.quoted_key(quote),
            State::Key => self.key(),
            State::KeyEnd => self.key_end(),
            State::IncludeStart => self.include_start(),
            State::Include => self.include(),
            State::QuotedInclude(quote) => self.quoted_include(quote),
            State::BareInclude => self.bare_include(),
            State::Value => self.value(),
            State::ArrayValue => self.array_value(),
            State::ArrayValueEnd => self.array_value_end(),
            State::MapKeyStart => self.map_key_start(),
            State::MapQuotedKey(quote) => self.map_quoted_key(quote),
            State::MapKey => self.map_key(),
            State::MapKeyEnd => self.map_key_end(),
            State::MapValue => self.map_value(),
            State::MapValueEnd => self.map_value_end(),
            State::MapEnd => self.close(TokenKind::MapEnd),
            State::SingleQuoted => self.single_quoted(),
            State::DoubleQuoted => self.double_quoted(),
            State::Bare => self.bare(),
            State::Block => self.block(),
            State::Escape => self.escape(),
            State::EscapeHex => self.escape_hex(),
            State::Number => self.number(),
            State::NumberSuffix => self.number_suffix(),
            State::DateAfterYear => self.date_after_year(),
            State::NegativeNumberStart => self.negative_number_start(),
            State::NegativeNumber => self.negative_number(),
            State::FloatStart => self.float_start(),
            State::Float => self.float(),
            State::IpAddress => self.ip_address(),
            State::Comment => self.comment(),
            State::Finished => Ok(State::Finished),
        }
    }

    // ---- reading -------------------------------------------------------------------------

    fn next(&mut self) -> char {
        self.backed_up = false;
        if self.pos >= self.input.len() {
            self.width = 0;
            return END;
        }
        let (character, width) = decode_utf8(&self.input[self.pos..]);
        self.width = width;
        self.pos += width;
        character
    }

    /// Steps back over the last character read; like nats-server, stepping back twice moves
    /// by the same width twice.
    fn backup(&mut self) {
        self.pos -= self.width;
        self.backed_up = true;
    }

    fn peek(&mut self) -> char {
        let character = self.next();
        self.backup();
        character
    }

    fn ignore(&mut self) {
        self.start = self.pos;
    }

    fn push(&mut self, state: State) {
        self.stack.push(state);
    }

    fn pop(&mut self) -> Step {
        self.stack
            .pop()
            .ok_or_else(|| self.error("BUG in lexer: no states to pop.".to_string()))
    }

    fn error(&self, message: String) -> LexError {
        LexError {
            message,
            character_offset: if self.backed_up {
                self.pos
            } else {
                self.pos - self.width
            },
            stop_offset: self.pos,
        }
    }

    // ---- emitting ------------------------------------------------------------------------

    fn token(&self, kind: TokenKind, text: String, start: usize) -> Token {
        Token {
            kind,
            text,
            start,
            end: self.pos,
        }
    }

    /// Emits `input[start..pos]`, after any unescaped parts, as one token.
    fn emit(&mut self, kind: TokenKind) {
        let origin = self.parts_origin.take().unwrap_or(self.start);
        let mut bytes = std::mem::take(&mut self.parts);
        bytes.extend_from_slice(&self.input[self.start..self.pos]);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let token = self.token(kind, text, origin);
        self.ready.push_back(token);
        self.start = self.pos;
    }

    /// Emits a bracket token for the character just read.
    fn emit_bracket(&mut self, kind: TokenKind) {
        let token = self.token(kind, String::new(), self.pos - self.width);
        self.ready.push_back(token);
        self.ignore();
    }

    /// The end of input where a new item could start: clean only if nothing is pending.
    fn end_or_error(&mut self) -> Step {
        if self.pos > self.start {
            return Err(self.error("Unexpected EOF.".to_string()));
        }
        self.emit(TokenKind::End);
        Ok(State::Finished)
    }

    fn comment_start(&mut self, return_to: State) -> Step {
        self.push(return_to);
        self.ignore();
        self.emit(TokenKind::Comment);
        Ok(State::Comment)
    }

    fn comment(&mut self) -> Step {
        let character = self.peek();
        if is_newline(character) || character == END {
            self.ignore();
            return self.pop();
        }
        self.next();
        Ok(State::Comment)
    }

    /// After a `/`: a second `/` starts a comment; otherwise the lookahead is put back and
    /// the caller carries on with the `/` consumed.
    fn slash_comment(&mut self, return_to: State) -> Option<Step> {
        if self.next() == '/' {
            return Some(self.comment_start(return_to));
        }
        self.backup();
        None
    }

    fn close(&mut self, kind: TokenKind) -> Step {
        self.emit_bracket(kind);
        self.pop()
    }

    // ---- top level and `{ ... }` around the whole file -----------------------------------

    fn top(&mut self) -> Step {
        let character = self.next();
        if character.is_whitespace() {
            self.ignore();
            return Ok(State::Top);
        }
        match character {
            '{' => {
                self.push(State::Top);
                self.ignore();
                Ok(State::BlockStart)
            }
            '#' => self.comment_start(State::Top),
            '/' => match self.slash_comment(State::Top) {
                Some(step) => step,
                None => self.end_or_error(),
            },
            END => self.end_or_error(),
            _ => {
                self.backup();
                self.push(State::TopValueEnd);
                Ok(State::KeyStart)
            }
        }
    }

    fn top_value_end(&mut self) -> Step {
        let character = self.next();
        match character {
            '#' => self.comment_start(State::Top),
            '/' => self
                .slash_comment(State::Top)
                .unwrap_or(Ok(State::TopValueEnd)),
            ' ' | '\t' => Ok(State::TopValueEnd),
            '\n' | '\r' | END | ';' | ',' | '}' => {
                self.ignore();
                Ok(State::Top)
            }
            _ => Err(self.error(format!(
                "Expected a top-level value to end with a new line, comment or EOF, \
                 but got '{}' instead.",
                shown(character)
            ))),
        }
    }

    fn block_start(&mut self) -> Step {
        let character = self.next();
        if character.is_whitespace() {
            self.ignore();
            return Ok(State::BlockStart);
        }
        match character {
            '{' => {
                self.push(State::BlockEnd);
                self.ignore();
                Ok(State::BlockStart)
            }
            '}' => {
                self.ignore();
                self.pop()
            }
            '#' => self.comment_start(State::BlockStart),
            '/' => match self.slash_comment(State::BlockStart) {
                Some(step) => step,
                None => self.end_or_error(),
            },
            END => self.end_or_error(),
            _ => {
                self.backup();
                self.push(State::BlockValueEnd);
                Ok(State::KeyStart)
            }
        }
    }

    fn block_value_end(&mut self) -> Step {
        let character = self.next();
        match character {
            '#' => self.comment_start(State::BlockValueEnd),
            '/' => self
                .slash_comment(State::BlockValueEnd)
                .unwrap_or(Ok(State::BlockValueEnd)),
            ' ' | '\t' => Ok(State::BlockValueEnd),
            '\n' | '\r' | ';' | ',' => {
                self.ignore();
                Ok(State::BlockStart)
            }
            '}' => {
                self.backup();
                Ok(State::BlockEnd)
            }
            _ => Err(self.error(format!(
                "Expected a block-level value to end with a new line, comment or EOF, \
                 but got '{}' instead.",
                shown(character)
            ))),
        }
    }

    fn block_end(&mut self) -> Step {
        let character = self.next();
        match character {
            '#' => self.comment_start(State::BlockStart),
            '/' => self
                .slash_comment(State::BlockStart)
                .unwrap_or(Ok(State::BlockEnd)),
            '\n' | '\r' | ' ' | '\t' => Ok(State::BlockEnd),
            ';' | ',' => {
                self.ignore();
                Ok(State::BlockStart)
            }
            '}' => {
                self.ignore();
                self.pop()
            }
            _ => Err(self.error(format!(
                "Expected a block-level to end with a '}}', but got '{}' instead.",
                shown(character)
            ))),
        }
    }

    // ---- keys outside maps ---------------------------------------------------------------

    fn key_start(&mut self) -> Step {
        let character = self.peek();
        match character {
            '=' | ':' => {
                Err(self.error(format!("Unexpected key separator '{}'", shown(character))))
            }
            '"' | '\'' => {
                self.next();
                self.ignore();
                Ok(State::QuotedKey(character))
            }
            _ if character.is_whitespace() => {
                self.next();
                self.ignore();
                Ok(State::KeyStart)
            }
            _ => {
                self.ignore();
                self.next();
                Ok(State::Key)
            }
        }
    }

    fn quoted_key(&mut self, quote: char) -> Step {
        let character = self.peek();
        if character == quote {
            self.emit(TokenKind::Key);
            self.next();
            self.ignore();
            return Ok(State::KeyEnd);
        }
        if character == END {
            return self.end_or_error();
        }
        self.next();
        Ok(State::QuotedKey(quote))
    }

    fn key(&mut self) -> Step {
        let character = self.peek();
        if character.is_whitespace() {
            return Ok(self.key_or_include(State::KeyEnd, None));
        }
        if is_key_separator(character) || character == END {
            self.emit(TokenKind::Key);
            return Ok(State::KeyEnd);
        }
        self.next();
        Ok(State::Key)
    }

    /// A key followed by white space may be the `include` keyword (any letter case).
    fn key_or_include(&mut self, after_key: State, after_include: Option<State>) -> State {
        if is_word_ignoring_case(&self.input[self.start..self.pos], "include") {
            self.ignore();
            if let Some(state) = after_include {
                self.push(state);
            }
            return State::IncludeStart;
        }
        self.emit(TokenKind::Key);
        after_key
    }

    fn key_end(&mut self) -> Step {
        let character = self.next();
        if character.is_whitespace() {
            self.ignore();
            return Ok(State::KeyEnd);
        }
        if is_key_separator(character) {
            self.ignore();
            return Ok(State::Value);
        }
        if character == END {
            self.emit(TokenKind::End);
            return Ok(State::Finished);
        }
        self.backup();
        Ok(State::Value)
    }

    // ---- include -------------------------------------------------------------------------

    fn include_start(&mut self) -> Step {
        if is_blank(self.next()) {
            self.ignore();
            return Ok(State::IncludeStart);
        }
        self.backup();
        Ok(State::Include)
    }

    fn include(&mut self) -> Step {
        let character = self.next();
        let found = match character {
            '\'' | '"' => {
                self.ignore();
                return Ok(State::QuotedInclude(character));
            }
            '[' => "start of an array",
            '{' => "start of a map",
            '(' => "start of a block",
            '-' => "start of a number",
            _ if is_digit(character) => "start of a number",
            '\\' => "escape sequence",
            '\n' | '\r' => "new line",
            _ => {
                self.backup();
                return Ok(State::BareInclude);
            }
        };
        Err(self.error(format!("Expected include value but found {found}")))
    }

    fn quoted_include(&mut self, quote: char) -> Step {
        let character = self.next();
        if character == quote {
            self.backup();
            self.emit(TokenKind::Include);
            self.next();
            self.ignore();
            return self.pop();
        }
        if character == END {
            let which = if quote == '"' {
                "double quoted"
            } else {
                "quoted"
            };
            return Err(self.error(format!("Unexpected EOF in {which} include")));
        }
        Ok(State::QuotedInclude(quote))
    }

    fn bare_include(&mut self) -> Step {
        match self.next() {
            '\n' | '\r' | END | ';' | '}' | ' ' | '\t' => {
                self.backup();
                self.emit(TokenKind::Include);
                self.pop()
            }
            '\'' => {
                self.backup();
                self.emit(TokenKind::Include);
                self.next();
                self.ignore();
                self.pop()
            }
            _ => Ok(State::BareInclude),
        }
    }

    // ---- values and arrays ---------------------------------------------------------------

    fn value(&mut self) -> Step {
        let character = self.next();
        match character {
            ' ' | '\t' => {
                self.ignore();
                Ok(State::Value)
            }
            '[' => {
                self.emit_bracket(TokenKind::ArrayStart);
                Ok(State::ArrayValue)
            }
            '{' => {
                self.emit_bracket(TokenKind::MapStart);
                Ok(State::MapKeyStart)
            }
            '\'' => {
                self.ignore();
                Ok(State::SingleQuoted)
            }
            '"' => {
                self.ignore();
                self.string_state = State::DoubleQuoted;
                Ok(State::DoubleQuoted)
            }
            '-' => Ok(State::NegativeNumberStart),
            '(' => {
                self.ignore();
                Ok(State::Block)
            }
            _ if is_digit(character) => Ok(State::Number),
            '.' => Err(self.error("Floats must start with a digit".to_string())),
            '\n' | '\r' => Err(self.error("Expected value but found new line".to_string())),
            _ => {
                self.backup();
                self.string_state = State::Bare;
                Ok(State::Bare)
            }
        }
    }

    fn array_value(&mut self) -> Step {
        let character = self.next();
        match character {
            _ if character.is_whitespace() => {
                self.ignore();
                Ok(State::ArrayValue)
            }
            '#' => self.comment_start(State::ArrayValue),
            // A lone `/` is reported as a stray `,` by nats-server too.
            '/' | ',' => match self.slash_comment_if(character, State::ArrayValue) {
                Some(step) => step,
                None => Err(self.error("Unexpected array value terminator ','.".to_string())),
            },
            ']' => self.close(TokenKind::ArrayEnd),
            _ => {
                self.backup();
                self.push(State::ArrayValueEnd);
                Ok(State::Value)
            }
        }
    }

    fn slash_comment_if(&mut self, character: char, return_to: State) -> Option<Step> {
        if character == '/' {
            self.slash_comment(return_to)
        } else {
            None
        }
    }

    fn array_value_end(&mut self) -> Step {
        let character = self.next();
        match character {
            ' ' | '\t' => {
                self.ignore();
                Ok(State::ArrayValueEnd)
            }
            '#' => self.comment_start(State::ArrayValueEnd),
            '/' | ',' | '\n' | '\r' => {
                match self.slash_comment_if(character, State::ArrayValueEnd) {
                    Some(step) => step,
                    None => {
                        self.ignore();
                        Ok(State::ArrayValue)
                    }
                }
            }
            ']' => self.close(TokenKind::ArrayEnd),
            _ => Err(self.error(format!(
                "Expected an array value terminator \",\" or an array terminator \"]\", \
                 but got '{}' instead.",
                shown(character)
            ))),
        }
    }

    // ---- maps ----------------------------------------------------------------------------

    fn map_key_start(&mut self) -> Step {
        let character = self.peek();
        match character {
            '=' | ':' => {
                return Err(self.error(format!("Unexpected key separator '{}'.", shown(character))))
            }
            ']' => {
                return Err(self.error(format!(
                    "Unexpected array end '{}' processing map.",
                    shown(character)
                )))
            }
            _ if character.is_whitespace() => {
                self.next();
                self.ignore();
                return Ok(State::MapKeyStart);
            }
            '}' => {
                self.next();
                self.ignore();
                return Ok(State::MapEnd);
            }
            '#' => {
                self.next();
                return self.comment_start(State::MapKeyStart);
            }
            '/' => {
                self.next();
                if let Some(step) = self.slash_comment(State::MapKeyStart) {
                    return step;
                }
                // nats-server drops a lone `/` here: `{/a = 1}` has the key `a`.
            }
            '\'' | '"' => {
                self.next();
                self.ignore();
                return Ok(State::MapQuotedKey(character));
            }
            END => return Err(self.error("Unexpected EOF processing map.".to_string())),
            _ => {}
        }
        self.ignore();
        self.next();
        Ok(State::MapKey)
    }

    fn map_quoted_key(&mut self, quote: char) -> Step {
        let character = self.peek();
        if character == END {
            let which = if quote == '"' {
                "double quoted"
            } else {
                "quoted"
            };
            return Err(self.error(format!("Unexpected EOF processing {which} map key.")));
        }
        if character == quote {
            self.emit(TokenKind::Key);
            self.next();
            self.ignore();
            return Ok(State::MapKeyEnd);
        }
        self.next();
        Ok(State::MapQuotedKey(quote))
    }

    fn map_key(&mut self) -> Step {
        let character = self.peek();
        if character == END {
            return Err(self.error("Unexpected EOF processing map key.".to_string()));
        }
        if character.is_whitespace() {
            return Ok(self.key_or_include(State::MapKeyEnd, Some(State::MapValueEnd)));
        }
        if is_key_separator(character) {
            self.emit(TokenKind::Key);
            return Ok(State::MapKeyEnd);
        }
        self.next();
        Ok(State::MapKey)
    }

    fn map_key_end(&mut self) -> Step {
        let character = self.next();
        if character.is_whitespace() {
            self.ignore();
            return Ok(State::MapKeyEnd);
        }
        if is_key_separator(character) {
            self.ignore();
            return Ok(State::MapValue);
        }
        self.backup();
        Ok(State::MapValue)
    }

    fn map_value(&mut self) -> Step {
        let character = self.next();
        match character {
            _ if character.is_whitespace() => {
                self.ignore();
                Ok(State::MapValue)
            }
            ',' => Err(self.error("Unexpected map value terminator \",\".".to_string())),
            // A key with no value: nats-server closes the map and the key is left over.
            '}' => {
                self.ignore();
                Ok(State::MapEnd)
            }
            _ => {
                self.backup();
                self.push(State::MapValueEnd);
                Ok(State::Value)
            }
        }
    }

    fn map_value_end(&mut self) -> Step {
        let character = self.next();
        match character {
            ' ' | '\t' => {
                self.ignore();
                Ok(State::MapValueEnd)
            }
            '#' => self.comment_start(State::MapValueEnd),
            '/' | ';' | ',' | '\n' | '\r' => {
                match self.slash_comment_if(character, State::MapValueEnd) {
                    Some(step) => step,
                    None => {
                        self.ignore();
                        Ok(State::MapKeyStart)
                    }
                }
            }
            '}' => {
                self.ignore();
                Ok(State::MapEnd)
            }
            _ => Err(self.error(format!(
                "Expected a map value terminator \",\" or a map terminator \"}}\", \
                 but got '{}' instead.",
                shown(character)
            ))),
        }
    }

    // ---- strings -------------------------------------------------------------------------

    fn single_quoted(&mut self) -> Step {
        match self.next() {
            '\'' => self.finish_quoted(TokenKind::String),
            // nats-server ends cleanly if nothing follows the quote.
            END => self.end_or_error(),
            _ => Ok(State::SingleQuoted),
        }
    }

    /// Emits the text before the closing quote just read, then skips the quote.
    fn finish_quoted(&mut self, kind: TokenKind) -> Step {
        self.backup();
        self.emit(kind);
        self.next();
        self.ignore();
        self.pop()
    }

    fn double_quoted(&mut self) -> Step {
        match self.next() {
            '\\' => {
                self.take_part_before_escape();
                Ok(State::Escape)
            }
            '"' => self.finish_quoted(TokenKind::String),
            // nats-server ends cleanly if nothing follows the quote.
            END => self.end_or_error(),
            _ => Ok(State::DoubleQuoted),
        }
    }

    fn bare(&mut self) -> Step {
        let character = self.next();
        match character {
            '\\' => {
                self.take_part_before_escape();
                Ok(State::Escape)
            }
            '\n' | '\r' | END | ';' | ',' | ']' | '}' | ' ' | '\t' => {
                self.backup();
                let kind = self.bare_kind();
                self.emit(kind);
                self.pop()
            }
            '\'' => self.finish_quoted(TokenKind::String),
            _ => Ok(State::Bare),
        }
    }

    /// A bare word without escapes may be a boolean or a `$variable` reference.
    fn bare_kind(&mut self) -> TokenKind {
        if self.parts_origin.is_some() {
            return TokenKind::String;
        }
        let word = &self.input[self.start..self.pos];
        let is_bool = ["true", "false", "on", "off", "yes", "no"]
            .iter()
            .any(|candidate| is_word_ignoring_case(word, candidate));
        if is_bool {
            return TokenKind::Bool;
        }
        if word.first() == Some(&b'$') {
            // The name starts after the `$`; the token's position stays on the `$`.
            self.parts_origin = Some(self.start);
            self.start += 1;
            return TokenKind::Variable;
        }
        TokenKind::String
    }

    fn take_part_before_escape(&mut self) {
        if self.parts_origin.is_none() {
            self.parts_origin = Some(self.start);
        }
        let before_backslash = self.pos - 1;
        self.parts
            .extend_from_slice(&self.input[self.start..before_backslash]);
        self.start = self.pos;
    }

    fn add_part(&mut self, bytes: &[u8]) -> Step {
        self.parts.extend_from_slice(bytes);
        self.start = self.pos;
        Ok(self.string_state)
    }

    fn escape(&mut self) -> Step {
        let character = self.next();
        match character {
            'x' => Ok(State::EscapeHex),
            't' => self.add_part(b"\t"),
            'n' => self.add_part(b"\n"),
            'r' => self.add_part(b"\r"),
            '"' => self.add_part(b"\""),
            '\\' => self.add_part(b"\\"),
            _ => Err(self.error(format!(
                "Invalid escape character '{}'. Only the following escape characters are \
                 allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                shown(character)
            ))),
        }
    }

    fn escape_hex(&mut self) -> Step {
        for _ in 0..2 {
            if is_newline(self.next()) {
                return Err(self.error(
                    "Expected two hexadecimal digits after '\\x', but hit end of line".to_string(),
                ));
            }
        }
        // nats-server decodes the last two bytes read, whatever characters they belong to.
        let digits = &self.input[self.pos - 2..self.pos];
        match (hex_value(digits[0]), hex_value(digits[1])) {
            (Some(high), Some(low)) => self.add_part(&[high << 4 | low]),
            _ => Err(self.error(format!(
                "Expected two hexadecimal digits after '\\x', but got '{}'",
                String::from_utf8_lossy(digits)
            ))),
        }
    }

    /// `( ... )`: raw text up to a `)` alone at the start of a line.
    fn block(&mut self) -> Step {
        match self.next() {
            ')' => self.block_close(),
            END => Err(self.error("Unexpected EOF processing block.".to_string())),
            _ => Ok(State::Block),
        }
    }

    /// Just read a `)`. nats-server ends the block only when the byte before it is a new
    /// line and the character after it is a new line or the end; at the very end of input
    /// its step-back is a no-op, so the text then keeps the final "\n)".
    fn block_close(&mut self) -> Step {
        self.backup();
        self.backup();
        if self.next() != '\n' {
            self.next();
            return Ok(State::Block);
        }
        self.next();
        match self.next() {
            '\n' | END => {
                self.backup();
                self.backup();
                self.emit(TokenKind::String);
                self.next();
                self.ignore();
                self.pop()
            }
            _ => {
                self.backup();
                Ok(State::Block)
            }
        }
    }

    // ---- numbers, dates, addresses -------------------------------------------------------

    /// Digits so far; what follows decides: a date, a float or IP address, a size suffix,
    /// the end of an integer, or (any other character) a bare string such as `1x`.
    fn number(&mut self) -> Step {
        let character = self.next();
        match character {
            '-' => {
                if self.pos - self.start != 5 {
                    return Err(
                        self.error("All ISO8601 dates must be in full Zulu form.".to_string())
                    );
                }
                Ok(State::DateAfterYear)
            }
            _ if is_digit(character) => Ok(State::Number),
            '.' => Ok(State::FloatStart),
            _ if is_number_suffix(character) => Ok(State::NumberSuffix),
            // `]` is missing from this list in nats-server, so `[1]` lexes `1]` as a string.
            '\n' | '\r' | END | '}' | ';' | ',' | ' ' | '\t' => {
                self.backup();
                self.emit(TokenKind::Integer);
                self.pop()
            }
            _ => {
                self.string_state = State::Bare;
                Ok(State::Bare)
            }
        }
    }

    fn number_suffix(&mut self) -> Step {
        let character = self.next();
        if matches!(character, 'b' | 'B' | 'i' | 'I') {
            return Ok(State::NumberSuffix);
        }
        self.backup();
        // nats-server 2.15 (PR #8263): only a value terminator ends a sized number, so
        // `4e2abc` and `1k5` are strings. Unlike plain numbers, `]` counts here.
        if matches!(
            character,
            '\n' | '\r' | END | '}' | ']' | ';' | ',' | ' ' | '\t'
        ) {
            self.emit(TokenKind::Integer);
            return self.pop();
        }
        self.string_state = State::Bare;
        Ok(State::Bare)
    }

    fn date_after_year(&mut self) -> Step {
        // After "YYYY-": '0' stands for any digit, anything else must match exactly.
        for expected in "00-00T00:00:00Z".chars() {
            let character = self.next();
            if expected == '0' {
                if !is_digit(character) {
                    return Err(self.error(format!(
                        "Expected digit in ISO8601 datetime, but found '{}' instead.",
                        shown(character)
                    )));
                }
            } else if character != expected {
                return Err(self.error(format!(
                    "Expected '{expected}' in ISO8601 datetime, but found '{}' instead.",
                    shown(character)
                )));
            }
        }
        self.emit(TokenKind::DateTime);
        self.pop()
    }

    fn negative_number_start(&mut self) -> Step {
        let character = self.next();
        if is_digit(character) {
            return Ok(State::NegativeNumber);
        }
        if character == '.' {
            return Err(self.error("Floats must start with a digit, not '.'.".to_string()));
        }
        Err(self.error(format!("Expected a digit but got '{}'.", shown(character))))
    }

    fn negative_number(&mut self) -> Step {
        let character = self.next();
        match character {
            _ if is_digit(character) => Ok(State::NegativeNumber),
            '.' => Ok(State::FloatStart),
            _ if is_number_suffix(character) => Ok(State::NumberSuffix),
            _ => {
                self.backup();
                self.emit(TokenKind::Integer);
                self.pop()
            }
        }
    }

    fn float_start(&mut self) -> Step {
        let character = self.next();
        if is_digit(character) {
            return Ok(State::Float);
        }
        Err(self.error(format!(
            "Floats must have a digit after the '.', but got '{}' instead.",
            shown(character)
        )))
    }

    fn float(&mut self) -> Step {
        let character = self.next();
        if is_digit(character) {
            return Ok(State::Float);
        }
        if character == '.' {
            return Ok(State::IpAddress);
        }
        self.backup();
        self.emit(TokenKind::Float);
        self.pop()
    }

    /// A second `.` turned a float into an address such as `127.0.0.1:4222`: a string.
    fn ip_address(&mut self) -> Step {
        let character = self.next();
        if is_digit(character) || matches!(character, '.' | ':' | '-') {
            return Ok(State::IpAddress);
        }
        self.backup();
        self.emit(TokenKind::String);
        self.pop()
    }
}

/// Decodes one character; an invalid or truncated sequence reads as U+FFFD of width 1.
fn decode_utf8(bytes: &[u8]) -> (char, usize) {
    let width = match bytes[0] {
        0x00..=0x7f => return (char::from(bytes[0]), 1),
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return (char::REPLACEMENT_CHARACTER, 1),
    };
    match bytes.get(..width).map(std::str::from_utf8) {
        Some(Ok(text)) => (text.chars().next().unwrap_or(END), width),
        _ => (char::REPLACEMENT_CHARACTER, 1),
    }
}

/// How nats-server prints a character in an error: a new line as `\n`, all else as is.
fn shown(character: char) -> String {
    if character == '\n' {
        "\\n".to_string()
    } else {
        character.to_string()
    }
}

/// nats-server's `unicode.IsDigit` also takes other scripts' decimal digits; only ASCII
/// digits are recognised here (such a digit could never parse as a number anyway).
fn is_digit(character: char) -> bool {
    character.is_ascii_digit()
}

fn is_number_suffix(character: char) -> bool {
    matches!(
        character.to_ascii_lowercase(),
        'k' | 'm' | 'g' | 't' | 'p' | 'e'
    )
}

fn is_key_separator(character: char) -> bool {
    character == '=' || character == ':'
}

/// The spaces the grammar calls white space (new lines are separate).
fn is_blank(character: char) -> bool {
    character == ' ' || character == '\t'
}

fn is_newline(character: char) -> bool {
    character == '\n' || character == '\r'
}

fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).map(|digit| digit as u8)
}

/// Compares a word with a lower-case ASCII keyword the way Go's `strings.ToLower` would:
/// besides ASCII letters, `İ` (U+0130) lowers to `i` and the Kelvin sign to `k`.
pub(super) fn is_word_ignoring_case(word: &[u8], keyword: &str) -> bool {
    let Ok(word) = std::str::from_utf8(word) else {
        return false;
    };
    let mut lowered = word.chars().map(|character| match character {
        '\u{130}' => 'i',
        '\u{212a}' => 'k',
        other => other.to_ascii_lowercase(),
    });
    keyword
        .chars()
        .all(|expected| lowered.next() == Some(expected))
        && lowered.next().is_none()
}
