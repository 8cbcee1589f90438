// Where things sit in the workbook form: the writer lays cells out by these
// numbers and the import reads them back by the same.
export const NODES_SHEET = 'Nodes';
/** Hidden sheet holding the validation lists (role combinations, yes/no). */
export const LISTS_SHEET = 'Lists';
/** Nodes: row 1 the keys, row 2 help, nodes from row 3. */
export const NODES_HELP_ROW = 2;
export const NODES_FIRST_ROW = 3;
/** Rows of the Nodes sheet made ready for input (validation lists, input fill). */
export const NODES_INPUT_ROWS = 500;
/** Key/value sheets: a heading row, then one field a row; column A the key, B the value. */
export const FIELDS_HEADER_ROW = 4;
export const FIELDS_FIRST_ROW = 5;
export const KEY_COL = 1;
export const VALUE_COL = 2;
