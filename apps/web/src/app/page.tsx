export default function Home() {
  return <main>Loraplane</main>;
}
