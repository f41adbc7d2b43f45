/// Which release of Ben this is: what `--version` prints on every executable and `ben_build_info` reports.
public enum BenRelease {
    /// The release number, `major.minor.patch`; the same string in every executable built from this tree.
    public static let current = "0.9.0"
}
