/// The natural logarithm without Foundation, so that pure cores need none and give the same answer on every
/// platform: x is scaled into [1, 2) by powers of two, then ln y = 2·atanh((y − 1)/(y + 1)) as a series. Minus
/// infinity for x ≤ 0.
public func naturalLog(_ x: Double) -> Double {
    guard x > 0 else { return -.infinity }
    var e = 0.0
    var y = x
    while y >= 2 {
        y /= 2
        e += 1
    }
    while y < 1 {
        y *= 2
        e -= 1
    }
    let z = (y - 1) / (y + 1)
    let z2 = z * z
    var term = z
    var sum = 0.0
    var i = 1.0
    while i < 60 {
        sum += term / i
        term *= z2
        i += 2
    }
    return 2 * sum + e * 0.693_147_180_559_945_3
}
