/// Which release of Ben this is: what `--version` prints on every executable and `ben_build_info` reports.
public enum BenRelease {
    public static let current = "0.9.0"
}
