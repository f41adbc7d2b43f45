/// Compiles the tree to instructions for the simulation in `LinearRegex`.
struct RegexCompiler {
    var program: [Instruction] = []

    mutating func emitProgram(_ node: RegexNode) throws(LinearRegex.Failure) {
        try emit(node)
        program.append(.match)
    }

    mutating func check() throws(LinearRegex.Failure) {
        if program.count > LinearRegex.maxInstructions {
            throw LinearRegex.Failure(offset: 0, message: "the pattern compiles to more than \(LinearRegex.maxInstructions) states; simplify it")
        }
    }

    mutating func emit(_ node: RegexNode) throws(LinearRegex.Failure) {
        try check()
        switch node {
        case .empty: break
        case .set(let ranges): program.append(.char(CharSet(ranges: CharSet.normalized(ranges))))
        case .any(let newline): program.append(.any(newline))
        case .assert(let kind): program.append(.assert(kind))
        case .concat(let items): for item in items { try emit(item) }
        case .alternate(let branches):
            var jumps: [Int] = []
            for (k, branch) in branches.enumerated() {
                if k < branches.count - 1 {
                    let split = program.count
                    program.append(.split(split + 1, 0))
                    try emit(branch)
                    jumps.append(program.count)
                    program.append(.jump(0))
                    program[split] = .split(split + 1, program.count)
                } else {
                    try emit(branch)
                }
            }
            for j in jumps { program[j] = .jump(program.count) }
        case .repeat(let inner, let min, let max):
            for _ in 0..<min { try emit(inner) }
            if let max {
                // Optional copies: (x(x(x)?)?)?
                var splits: [Int] = []
                for _ in min..<max {
                    splits.append(program.count)
                    program.append(.split(program.count + 1, 0))
                    try emit(inner)
                }
                for s in splits { program[s] = .split(s + 1, program.count) }
            } else {
                // Kleene star: L: split(body, out); body; jump L
                let loop = program.count
                program.append(.split(loop + 1, 0))
                try emit(inner)
                program.append(.jump(loop))
                program[loop] = .split(loop + 1, program.count)
            }
        }
    }
}
