import Link from "next/link";

export default function NotFound() {
  return (
    <div className="card narrow">
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. Go to the <Link href="/">upload page</Link> or your{" "}
        <Link href="/history/">history</Link>.
      </p>
    </div>
  );
}
