import Glibc

/// "1 stripe tree", "2 stripe trees", "1 entry", "3 entries": every count benctl prints goes through here.
func counted(_ n: Int, _ singular: String, _ plural: String? = nil) -> String {
    "\(n) \(n == 1 ? singular : plural ?? singular + "s")"
}

func counted(_ n: Int64, _ singular: String, _ plural: String? = nil) -> String {
    counted(Int(n), singular, plural)
}

/// Whether stderr is a terminal that takes cursor escapes (`\r`, `ESC[K`): not a pipe, a file or `TERM=dumb`. benctl
/// writes no escape code anywhere else.
enum Terminal {
    static let standardErrorTakesEscapes: Bool = {
        guard isatty(2) == 1 else { return false }
        let term = ProcessEnvironment.value("TERM") ?? ""
        return !term.isEmpty && term != "dumb"
    }()
}
