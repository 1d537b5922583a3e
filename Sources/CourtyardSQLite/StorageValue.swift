/// One stored value in the three shapes Courtyard's tables use: text, integer, or NULL.
///
/// Records that are written in bulk describe their row once as `[StorageValue]`;
/// both the SQLKit path (`sqlExpression`, in Storage) and the raw SQLite path bind from it,
/// so the two paths cannot disagree about a column. The raw path reads rows back in the same shape.
public enum StorageValue: Sendable, Hashable {
    case text(String)
    case integer(Int64)
    case null
}
