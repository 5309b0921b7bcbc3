/** Print rows as aligned columns under a header line. */
export function printTable(columns: string[], rows: string[][]): void {
  const widths = columns.map((column, index) => Math.max(column.length, ...rows.map((row) => row[index].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, index) => cell.padEnd(widths[index]))
      .join('  ')
      .trimEnd();

  console.log(line(columns));
  for (const row of rows) {
    console.log(line(row));
  }
}
