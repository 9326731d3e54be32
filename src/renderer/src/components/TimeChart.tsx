import { useEffect, useRef } from 'react'
import uPlot, { type AlignedData, type Options } from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { formatCount } from '../format'

export interface Series {
  label: string
  /** null draws a gap. */
  values: (number | null)[]
  color: string
}

interface Props {
  title: string
  time: number[]
  series: Series[]
  unit?: string
  height?: number
}

/** A live time series, drawn by uPlot on a canvas; new data is handed over with setData, not a new chart. */
export function TimeChart({ title, time, series, unit = '', height = 150 }: Props) {
  const container = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const data: AlignedData = [time, ...series.map((s) => s.values)]
  const labels = series.map((s) => s.label).join('|')

  useEffect(() => {
    const element = container.current!
    const options: Options = {
      width: element.clientWidth || 400,
      height,
      legend: { show: true, live: false },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(1, max * 1.1, min)] } },
      axes: [{ stroke: '#8a94a6', grid: { stroke: '#2a3142' } }, { stroke: '#8a94a6', grid: { stroke: '#2a3142' }, size: 60, values: (_u, ticks) => ticks.map((v) => `${formatCount(v)}${unit}`) }],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, points: { show: false } }))]
    }
    plot.current = new uPlot(options, data, element)
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: element.clientWidth, height }))
    resize.observe(element)
    return () => {
      resize.disconnect()
      plot.current?.destroy()
      plot.current = null
    }
    // The chart is rebuilt only when its shape changes; data flows in through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [labels, height, unit])

  useEffect(() => {
    plot.current?.setData(data)
  })

  return (
    <figure className="chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      <div ref={container} />
    </figure>
  )
}
