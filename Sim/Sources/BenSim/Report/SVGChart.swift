import BenCore
import BenTopology

/// Small inline-SVG charts for the HTML report: no scripts, no external files, readable in any browser.
enum SVGChart {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    struct Series {
        var name: String
        var points: [(Double, Double)]
        var dashed = false
        var color: String
    }

    /// A line chart; `logX` spaces the x axis logarithmically (for completion times that span decades).
    static func lines(id: String, title: String, xLabel: String, yLabel: String, series: [Series], logX: Bool, yMax: Double? = nil) -> String {
        let w = 760.0, h = 360.0, left = 64.0, right = 180.0, top = 36.0, bottom = 48.0
        let all = series.flatMap(\.points).filter { $0.0.isFinite && $0.1.isFinite }
        let xsPositive = all.map(\.0).filter { $0 > 0 }
        var xMin = logX ? (xsPositive.min() ?? 1) : 0
        var xMax = all.map(\.0).max() ?? 1
        if xMax <= xMin { xMax = xMin + 1 }
        if logX {
            xMin = pow10(floorLog10(xMin))
            xMax = pow10(ceilLog10(xMax))
        }
        let top1 = yMax ?? max(1e-9, all.map(\.1).max() ?? 1)
        func x(_ v: Double) -> Double {
            let f = logX ? (log10(max(v, xMin)) - log10(xMin)) / max(1e-12, log10(xMax) - log10(xMin)) : (v - xMin) / (xMax - xMin)
            return left + f * (w - left - right)
        }
        func y(_ v: Double) -> Double { top + (1 - v / top1) * (h - top - bottom) }
        var svg = header(id: id, w: w, h: h, title: title)
        svg += axes(left: left, right: w - right, top: top, bottom: h - bottom, xLabel: xLabel, yLabel: yLabel, w: w, h: h)
        // Ticks.
        if logX {
            var e = floorLog10(xMin)
            while pow10(e) <= xMax * 1.0001 {
                let xv = x(pow10(e))
                svg += "<line x1=\"\(f(xv))\" y1=\"\(f(h - bottom))\" x2=\"\(f(xv))\" y2=\"\(f(h - bottom + 5))\" stroke=\"#333\"/>"
                svg += "<text x=\"\(f(xv))\" y=\"\(f(h - bottom + 18))\" font-size=\"11\" text-anchor=\"middle\">\(esc(formatDuration(pow10(e))))</text>"
                e += 1
            }
        } else {
            for i in 0...5 {
                let v = xMin + Double(i) / 5 * (xMax - xMin)
                svg += "<text x=\"\(f(x(v)))\" y=\"\(f(h - bottom + 18))\" font-size=\"11\" text-anchor=\"middle\">\(esc(formatDuration(v)))</text>"
            }
        }
        for i in 0...4 {
            let v = Double(i) / 4 * top1
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y(v) + 4))\" font-size=\"11\" text-anchor=\"end\">\(esc(short(v)))</text>"
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(y(v)))\" x2=\"\(f(w - right))\" y2=\"\(f(y(v)))\" stroke=\"#eee\"/>"
        }
        for (i, s) in series.enumerated() {
            let pts = s.points.filter { $0.0.isFinite && $0.1.isFinite }
            guard !pts.isEmpty else { continue }
            // A CDF is a step function; draw it as one.
            var d = "M\(f(x(pts[0].0))),\(f(y(0)))"
            var lastY = 0.0
            for (px, py) in pts {
                d += " L\(f(x(px))),\(f(y(lastY))) L\(f(x(px))),\(f(y(py)))"
                lastY = py
            }
            svg += "<path class=\"mark\" d=\"\(d)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")><title>\(esc(s.name))</title></path>"
            let ly = top + 14 + Double(i) * 18
            svg += "<line x1=\"\(f(w - right + 12))\" y1=\"\(f(ly - 4))\" x2=\"\(f(w - right + 36))\" y2=\"\(f(ly - 4))\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/>"
            svg += "<text x=\"\(f(w - right + 42))\" y=\"\(f(ly))\" font-size=\"12\">\(esc(s.name))</text>"
        }
        return svg + "</svg>"
    }

    /// Horizontal bars, one group per category, one bar per series (stacked when `stacked`).
    static func bars(id: String, title: String, unit: (Double) -> String, categories: [String], series: [(name: String, values: [Double], color: String)], stacked: Bool, logScale: Bool = false) -> String {
        let rowHeight = stacked ? 26.0 : Double(max(1, series.count)) * 14 + 10
        // Room for the longest category label (about 6.5 px per character at 12 px), within reason.
        let longest = Double(categories.map(\.count).max() ?? 0)
        let left = min(420, max(150, longest * 6.5 + 16)), right = 170.0, top = 36.0, bottom = 30.0
        let w = 610.0 + left
        let h = top + bottom + rowHeight * Double(max(1, categories.count))
        let totals = categories.indices.map { i in stacked ? series.reduce(0) { $0 + max(0, $1.values[i]) } : series.map { $0.values[i] }.max() ?? 0 }
        let maxValue = max(totals.max() ?? 1, 1e-12)
        func scale(_ v: Double) -> Double {
            guard v > 0 else { return 0 }
            if logScale {
                let lo = max(1, (series.flatMap(\.values).filter { $0 > 0 }.min() ?? 1) / 2)
                return (log10(v) - log10(lo)) / max(1e-12, log10(maxValue) - log10(lo)) * (w - left - right)
            }
            return v / maxValue * (w - left - right)
        }
        var svg = header(id: id, w: w, h: h, title: title)
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(h - bottom))\" stroke=\"#333\"/>"
        for (i, category) in categories.enumerated() {
            let y0 = top + Double(i) * rowHeight
            svg += "<text x=\"\(f(left - 8))\" y=\"\(f(y0 + rowHeight / 2 + 4))\" font-size=\"12\" text-anchor=\"end\">\(esc(category))</text>"
            var x0 = left
            for (j, s) in series.enumerated() {
                let v = s.values[i]
                let width = max(v > 0 ? 1 : 0, scale(v))
                let y = stacked ? y0 + 4 : y0 + 4 + Double(j) * 14
                let hgt = stacked ? rowHeight - 8 : 12
                svg += "<rect class=\"mark\" x=\"\(f(stacked ? x0 : left))\" y=\"\(f(y))\" width=\"\(f(width))\" height=\"\(f(hgt))\" fill=\"\(s.color)\"><title>\(esc(category)) · \(esc(s.name)): \(esc(unit(v)))</title></rect>"
                if !stacked {
                    svg += "<text x=\"\(f(left + width + 4))\" y=\"\(f(y + 10))\" font-size=\"10\">\(esc(unit(v)))</text>"
                }
                if stacked { x0 += width }
            }
            if stacked { svg += "<text x=\"\(f(x0 + 4))\" y=\"\(f(y0 + rowHeight / 2 + 4))\" font-size=\"10\">\(esc(unit(totals[i])))</text>" }
        }
        for (j, s) in series.enumerated() where series.count > 1 {
            let ly = top + 14 + Double(j) * 18
            svg += "<rect x=\"\(f(w - right + 40))\" y=\"\(f(ly - 10))\" width=\"12\" height=\"12\" fill=\"\(s.color)\"/>"
            svg += "<text x=\"\(f(w - right + 58))\" y=\"\(f(ly))\" font-size=\"12\">\(esc(s.name))</text>"
        }
        return svg + "</svg>"
    }

    static func header(id: String, w: Double, h: Double, title: String) -> String {
        "<svg class=\"chart\" id=\"\(id)\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(w))\" height=\"\(f(h))\" viewBox=\"0 0 \(f(w)) \(f(h))\">"
            + "<text x=\"\(f(w / 2))\" y=\"20\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\">\(esc(title))</text>"
    }

    static func axes(left: Double, right: Double, top: Double, bottom: Double, xLabel: String, yLabel: String, w: Double, h: Double) -> String {
        "<line x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(right))\" y2=\"\(f(bottom))\" stroke=\"#333\"/>"
            + "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(bottom))\" stroke=\"#333\"/>"
            + "<text x=\"\(f((left + right) / 2))\" y=\"\(f(h - 8))\" font-size=\"12\" text-anchor=\"middle\">\(esc(xLabel))</text>"
            + "<text x=\"14\" y=\"\(f((top + bottom) / 2))\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(f((top + bottom) / 2)))\">\(esc(yLabel))</text>"
    }

    static func f(_ x: Double) -> String {
        guard x.isFinite else { return "0" }
        let r = (x * 10).rounded() / 10
        return r == r.rounded() ? "\(Int(r))" : "\(r)"
    }

    static func short(_ v: Double) -> String {
        if v == 0 { return "0" }
        if v < 1 { return "\((v * 100).rounded() / 100)" }
        return "\(Int(v.rounded()))"
    }
}

func esc(_ s: String) -> String {
    var out = ""
    for c in s {
        switch c {
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "&": out += "&amp;"
        case "\"": out += "&quot;"
        default: out.append(c)
        }
    }
    return out
}

func log10(_ x: Double) -> Double { naturalLog(x) / 2.302_585_092_994_046 }
func floorLog10(_ x: Double) -> Int { Int(log10(x).rounded(.down)) }
func ceilLog10(_ x: Double) -> Int { Int((log10(x) - 1e-9).rounded(.up)) }
func pow10(_ e: Int) -> Double {
    var r = 1.0
    if e >= 0 { for _ in 0..<e { r *= 10 } } else { for _ in 0..<(-e) { r /= 10 } }
    return r
}

