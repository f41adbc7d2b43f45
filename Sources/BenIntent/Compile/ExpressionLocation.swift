import BenCore

extension FileLocation {
    /// Where byte `offset` of an expression that starts here falls in the file: lines inside the expression
    /// move down, characters (not bytes) move right.
    func inside(_ expression: String, offset: Int) -> FileLocation {
        var copy = self
        var line = 0
        var column = 0
        for (i, byte) in expression.utf8.enumerated() {
            if i >= offset { break }
            if byte == 0x0A {
                line += 1
                column = 0
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        copy.line += line
        // Lines of a block expression all start at the block's indentation, which is where the first one starts.
        copy.column = self.column + column
        return copy
    }
}
