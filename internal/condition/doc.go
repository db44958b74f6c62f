// Package condition parses Falco rule conditions (the libsinsp filter
// language) into a syntax tree. It knows the syntax only: which fields,
// macros and lists exist, and which operators suit which fields, is for the
// engine's checker to decide.
//
// The grammar, after libsinsp's filter/parser.h:
//
//	Condition   ::= Expr EOF
//	Expr        ::= AndExpr ( 'or' AndExpr )*
//	AndExpr     ::= NotExpr ( 'and' NotExpr )*
//	NotExpr     ::= 'not' NotExpr | Check
//	Check       ::= '(' Expr ')' | Operand CheckTail | Identifier
//	Operand     ::= Field | Transformer
//	Transformer ::= ( 'tolower' | 'toupper' | 'basename' | 'b64' | 'len' ) '(' Operand ')'
//	CheckTail   ::= 'exists'
//	              | ( '<' | '<=' | '>' | '>=' ) ( Number | Transformer | FieldValue )
//	              | StrOp ( Value | Transformer | FieldValue )
//	              | StrOp ( 'oneof' | 'anyof' | 'allof' ) List
//	              | ( 'in' | 'intersects' | 'pmatch' ) ( List | Identifier | Transformer | FieldValue )
//	StrOp       ::= '=' | '==' | '!=' | 'contains' | 'icontains' | 'bcontains' | 'startswith'
//	              | 'bstartswith' | 'endswith' | 'glob' | 'iglob' | 'regex'
//	FieldValue  ::= 'val' '(' Operand ')'
//	List        ::= '(' ( Value ( ',' Value )* )? ')'
//	Field       ::= FieldName ( '[' FieldArg ']' )?
//
// Tokens: blanks are space, tab, CR, LF and backspace. An Identifier is a
// letter followed by letters, digits and '_'; a FieldName is two or more
// identifiers joined by '.'. A FieldArg follows the name with no blank and
// is a quoted string or any text whose brackets balance. A Value is a
// quoted string ("..." or '...', with the escapes \\ \" \' \n \t \r \b \f
// \/ \xHH; \" only in double quotes and \' only in single quotes) or a bare
// string: a run of bytes other than blanks and ( ) , = " '. A Number is 0x
// followed by hex digits, or a decimal with optional sign, fraction and
// exponent. The keywords and, or, not are lower case and must be followed
// by a blank or '('. Word operators must be followed by a blank ('in',
// 'intersects' and 'pmatch' also by '('); symbol operators need nothing.
// Transformer names and val must be followed directly by '('.
//
// Parse keeps the structure as written: "a and b and c" is one BinaryNode
// with three children, but "(a and b) and c" is a BinaryNode inside
// another, and each "not" is its own NotNode. The operator "==" becomes
// "=", and a modifier joins its operator with one space: "contains anyof".
//
// Every node's String method prints canonical text, from which Parse gives
// back an equal tree: one space around connectives and operators;
// parentheses only around a nested BinaryNode, and not around an "and"
// inside an "or"; quoted values in double quotes with the escapes above
// (other control bytes as \xHH), bare values bare; lists as "(a, b)"; a
// bare-identifier list as the name; field arguments bare unless they hold
// blanks, control bytes, unbalanced brackets or a leading quote.
package condition
