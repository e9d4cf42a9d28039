import { cellShade } from "./matrix";

/** A confusion matrix as a table, each cell shaded by its share of its true-class row. */
export function ConfusionMatrix({ matrix, labels }: { matrix: number[][]; labels: string[] }) {
  const name = (i: number) => labels[i] ?? `class ${i}`;
  return (
    <table className="dda-matrix" data-testid="confusion-matrix" style={{ borderCollapse: "collapse", fontSize: 13 }}>
      <caption style={{ textAlign: "left", paddingBottom: 4 }}>Rows: true class · columns: predicted class</caption>
      <thead>
        <tr>
          <th scope="col" style={{ padding: 6 }}>True \ predicted</th>
          {matrix[0]?.map((_, j) => <th key={j} scope="col" style={{ padding: 6 }}>{name(j)}</th>)}
        </tr>
      </thead>
      <tbody>
        {matrix.map((row, i) => (
          <tr key={i}>
            <th scope="row" style={{ padding: 6, textAlign: "left" }}>{name(i)}</th>
            {row.map((count, j) => {
              const { background, color } = cellShade(count, row, i === j);
              return (
                <td key={j} style={{ padding: "6px 14px", textAlign: "right", background, color, border: "1px solid #fff" }}>{count}</td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
